//! The OpenTelemetry resource every span and metric carries: service.name "fluxprobe" (unless
//! OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES name it), service.version, and
//! service.instance.id = the daemon's instance name.

use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;

pub const SERVICE_NAME: &str = "fluxprobe";

const KEY_SERVICE_NAME: &str = "service.name";
const KEY_SERVICE_VERSION: &str = "service.version";
const KEY_INSTANCE_ID: &str = "service.instance.id";

/// The resource of this process: what the SDK detects from the environment, completed.
pub fn build(instance: &str) -> Resource {
    complete(Resource::builder().build(), instance)
}

/// Completes a detected resource. The environment wins for service.name and service.version
/// (standard OTEL_* behaviour); service.instance.id is always the daemon's instance.
pub fn complete(detected: Resource, instance: &str) -> Resource {
    let mut extra = vec![KeyValue::new(KEY_INSTANCE_ID, instance.to_string())];
    let detected_name = detected.get(&Key::new(KEY_SERVICE_NAME));
    let name_is_default = match &detected_name {
        None => true,
        Some(Value::String(s)) => s.as_str().starts_with("unknown_service"),
        Some(_) => false,
    };
    if name_is_default {
        extra.push(KeyValue::new(KEY_SERVICE_NAME, SERVICE_NAME));
    }
    if detected.get(&Key::new(KEY_SERVICE_VERSION)).is_none() {
        extra.push(KeyValue::new(
            KEY_SERVICE_VERSION,
            env!("CARGO_PKG_VERSION"),
        ));
    }
    Resource::builder_empty()
        .with_attributes(
            detected
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_attributes(extra)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(r: &Resource, k: &str) -> Option<String> {
        r.get(&Key::new(k.to_string())).map(|v| v.to_string())
    }

    #[test]
    fn fills_name_version_and_instance() {
        let detected = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "unknown_service:fluxprobe"),
                KeyValue::new("telemetry.sdk.language", "rust"),
            ])
            .build();
        let r = complete(detected, "probe-eu-1");
        assert_eq!(get(&r, "service.name").as_deref(), Some("fluxprobe"));
        assert_eq!(
            get(&r, "service.version").as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            get(&r, "service.instance.id").as_deref(),
            Some("probe-eu-1")
        );
        assert_eq!(get(&r, "telemetry.sdk.language").as_deref(), Some("rust"));
    }

    #[test]
    fn environment_names_win() {
        let detected = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "gpu-canary"),
                KeyValue::new("service.version", "9.9"),
                KeyValue::new("service.instance.id", "from-env"),
            ])
            .build();
        let r = complete(detected, "probe-eu-1");
        assert_eq!(get(&r, "service.name").as_deref(), Some("gpu-canary"));
        assert_eq!(get(&r, "service.version").as_deref(), Some("9.9"));
        assert_eq!(
            get(&r, "service.instance.id").as_deref(),
            Some("probe-eu-1")
        );
    }
}
