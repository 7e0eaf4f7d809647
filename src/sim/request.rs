//! Reading the body of POST /generate and /submit-request the way FastAPI and pydantic v2 do:
//! lax type coercion (numeric strings, integral floats, booleans), every field's error collected,
//! and a 422 body `{"detail": [{"type", "loc", "msg", "input", "ctx"?}, …]}` when anything is
//! wrong. The newer API also checks ranges (width/height 256..1024, steps 1..100, seed
//! 0..2^32-1); the older one checks types only.

use crate::cli::ApiVersion;
use serde_json::{Map, Value, json};

/// A request body that passed validation. Integers are wide so that no input can overflow.
#[derive(Debug, Clone, PartialEq)]
pub struct GenRequest {
    pub prompt: String,
    pub steps: i128,
    pub guidance: f64,
    pub width: i128,
    pub height: i128,
    pub seed: Option<i128>,
}

impl GenRequest {
    /// Pixels of the requested image (0 for non-positive sizes).
    pub fn pixels(&self) -> f64 {
        (self.width.max(0) as f64) * (self.height.max(0) as f64)
    }

    /// The empty-prompt check the service runs itself (a 400 wrapped into a 500).
    pub fn prompt_is_empty(&self) -> bool {
        self.prompt.trim().is_empty()
    }
}

/// An integer as JSON: exact when it fits in 64 bits, a float beyond.
pub fn int_value(v: i128) -> Value {
    if let Ok(i) = i64::try_from(v) {
        Value::from(i)
    } else if let Ok(u) = u64::try_from(v) {
        Value::from(u)
    } else {
        Value::from(v as f64)
    }
}

/// Defaults of the optional fields, per API generation.
fn default_steps(v: ApiVersion) -> i128 {
    match v {
        ApiVersion::V1 => 10,
        ApiVersion::V2 => 20,
    }
}

fn default_guidance(v: ApiVersion) -> f64 {
    match v {
        ApiVersion::V1 => 4.0,
        ApiVersion::V2 => 3.5,
    }
}

fn error(kind: &str, loc: &[Value], msg: &str, input: &Value, ctx: Option<Value>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), Value::from(kind));
    let mut full_loc = vec![Value::from("body")];
    full_loc.extend(loc.iter().cloned());
    m.insert("loc".into(), Value::Array(full_loc));
    m.insert("msg".into(), Value::from(msg));
    m.insert("input".into(), input.clone());
    if let Some(ctx) = ctx {
        m.insert("ctx".into(), ctx);
    }
    Value::Object(m)
}

/// The 422 body for a list of error items.
pub fn validation_body(errors: Vec<Value>) -> Value {
    json!({ "detail": errors })
}

/// The 422 items of a body that is not valid JSON.
fn json_invalid(bytes: &[u8], e: &serde_json::Error) -> Vec<Value> {
    // pydantic reports the byte position of the failure; serde_json gives line and column.
    let mut pos = 0usize;
    let mut line = 1usize;
    for (i, b) in bytes.iter().enumerate() {
        if line == e.line() {
            pos = i + e.column().saturating_sub(1);
            break;
        }
        if *b == b'\n' {
            line += 1;
        }
    }
    let pos = pos.min(bytes.len());
    vec![error(
        "json_invalid",
        &[Value::from(pos as u64)],
        "JSON decode error",
        &json!({}),
        Some(json!({ "error": "Expecting value" })),
    )]
}

enum Coerced<T> {
    Ok(T),
    Err(Value),
}

fn coerce_int(name: &str, v: &Value) -> Coerced<i128> {
    let loc = [Value::from(name)];
    match v {
        Value::Bool(b) => Coerced::Ok(*b as i128),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Coerced::Ok(i as i128)
            } else if let Some(u) = n.as_u64() {
                Coerced::Ok(u as i128)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if !f.is_finite() {
                    Coerced::Err(error(
                        "finite_number",
                        &loc,
                        "Input should be a finite number",
                        v,
                        None,
                    ))
                } else if f.fract() != 0.0 {
                    Coerced::Err(error(
                        "int_from_float",
                        &loc,
                        "Input should be a valid integer, got a number with a fractional part",
                        v,
                        None,
                    ))
                } else {
                    // `as` saturates: a float past i128 stays out of every range below.
                    Coerced::Ok(f as i128)
                }
            }
        }
        Value::String(s) => match s.trim().parse::<i128>() {
            Ok(i) => Coerced::Ok(i),
            Err(_) => Coerced::Err(error(
                "int_parsing",
                &loc,
                "Input should be a valid integer, unable to parse string as an integer",
                v,
                None,
            )),
        },
        _ => Coerced::Err(error(
            "int_type",
            &loc,
            "Input should be a valid integer",
            v,
            None,
        )),
    }
}

fn coerce_float(name: &str, v: &Value) -> Coerced<f64> {
    let loc = [Value::from(name)];
    let parsed = match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(f) => Some(f),
            Err(_) => {
                return Coerced::Err(error(
                    "float_parsing",
                    &loc,
                    "Input should be a valid number, unable to parse string as a number",
                    v,
                    None,
                ));
            }
        },
        _ => None,
    };
    match parsed {
        Some(f) if f.is_finite() => Coerced::Ok(f),
        Some(_) => Coerced::Err(error(
            "finite_number",
            &loc,
            "Input should be a finite number",
            v,
            None,
        )),
        None => Coerced::Err(error(
            "float_type",
            &loc,
            "Input should be a valid number",
            v,
            None,
        )),
    }
}

/// Checks `lo <= value <= hi` the way pydantic words it.
fn check_range(name: &str, v: i128, input: &Value, lo: i128, hi: i128, errors: &mut Vec<Value>) {
    let loc = [Value::from(name)];
    if v < lo {
        errors.push(error(
            "greater_than_equal",
            &loc,
            &format!("Input should be greater than or equal to {lo}"),
            input,
            Some(json!({ "ge": int_value(lo) })),
        ));
    } else if v > hi {
        errors.push(error(
            "less_than_equal",
            &loc,
            &format!("Input should be less than or equal to {hi}"),
            input,
            Some(json!({ "le": int_value(hi) })),
        ));
    }
}

/// Parses and validates a request body. `Err` holds the 422 error items.
pub fn parse(bytes: &[u8], version: ApiVersion) -> Result<GenRequest, Vec<Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![error(
            "missing",
            &[],
            "Field required",
            &Value::Null,
            None,
        )]);
    }
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return Err(json_invalid(bytes, &e)),
    };
    let Value::Object(obj) = &value else {
        return Err(vec![error(
            "model_attributes_type",
            &[],
            "Input should be a valid dictionary or object to extract fields from",
            &value,
            None,
        )]);
    };
    let mut errors = Vec::new();
    let v2 = version == ApiVersion::V2;

    let prompt = match obj.get("prompt") {
        None => {
            errors.push(error(
                "missing",
                &[Value::from("prompt")],
                "Field required",
                &value,
                None,
            ));
            String::new()
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            errors.push(error(
                "string_type",
                &[Value::from("prompt")],
                "Input should be a valid string",
                other,
                None,
            ));
            String::new()
        }
    };

    let mut int_field = |name: &str, default: i128, range: Option<(i128, i128)>| -> i128 {
        match obj.get(name) {
            None => default,
            Some(v) => match coerce_int(name, v) {
                Coerced::Ok(i) => {
                    if let Some((lo, hi)) = range {
                        check_range(name, i, v, lo, hi, &mut errors);
                    }
                    i
                }
                Coerced::Err(e) => {
                    errors.push(e);
                    default
                }
            },
        }
    };
    let size_range = v2.then_some((256, 1024));
    let steps = int_field(
        "num_inference_steps",
        default_steps(version),
        v2.then_some((1, 100)),
    );
    let width = int_field("width", 512, size_range);
    let height = int_field("height", 512, size_range);

    let guidance = match obj.get("guidance_scale") {
        None => default_guidance(version),
        Some(v) => match coerce_float("guidance_scale", v) {
            Coerced::Ok(f) => f,
            Coerced::Err(e) => {
                errors.push(e);
                default_guidance(version)
            }
        },
    };

    let seed = match obj.get("seed") {
        None | Some(Value::Null) => None,
        Some(v) => match coerce_int("seed", v) {
            Coerced::Ok(i) => {
                if v2 {
                    check_range("seed", i, v, 0, u32::MAX as i128, &mut errors);
                }
                Some(i)
            }
            Coerced::Err(e) => {
                errors.push(e);
                None
            }
        },
    };

    if errors.is_empty() {
        Ok(GenRequest {
            prompt,
            steps,
            guidance,
            width,
            height,
            seed,
        })
    } else {
        Err(errors)
    }
}

/// The 422 items of the `validation_error` fault: a value error on the prompt, as a custom
/// pydantic validator would raise it.
pub fn injected_validation_error(bytes: &[u8]) -> Vec<Value> {
    let input = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("prompt").cloned())
        .unwrap_or(Value::Null);
    vec![error(
        "value_error",
        &[Value::from("prompt")],
        "Value error, prompt rejected by the content filter",
        &input,
        Some(json!({ "error": {} })),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str, v: ApiVersion) -> GenRequest {
        parse(body.as_bytes(), v).unwrap()
    }

    fn errs(body: &str, v: ApiVersion) -> Vec<Value> {
        parse(body.as_bytes(), v).unwrap_err()
    }

    #[test]
    fn the_usual_body_parses() {
        let r = ok(
            r#"{"prompt":"a fox","num_inference_steps":10,"guidance_scale":4.0,"width":512,"height":768,"seed":null}"#,
            ApiVersion::V2,
        );
        assert_eq!(r.prompt, "a fox");
        assert_eq!((r.steps, r.width, r.height, r.seed), (10, 512, 768, None));
        assert_eq!(r.guidance, 4.0);
        assert_eq!(r.pixels(), 512.0 * 768.0);
    }

    #[test]
    fn defaults_and_lax_coercion() {
        let r = ok(r#"{"prompt":"x"}"#, ApiVersion::V1);
        assert_eq!(
            (r.steps, r.width, r.height, r.guidance),
            (10, 512, 512, 4.0)
        );
        let r = ok(r#"{"prompt":"x"}"#, ApiVersion::V2);
        assert_eq!((r.steps, r.guidance), (20, 3.5));
        let r = ok(
            r#"{"prompt":"x","width":"640","height":512.0,"guidance_scale":"3","seed":true}"#,
            ApiVersion::V2,
        );
        assert_eq!(
            (r.width, r.height, r.guidance, r.seed),
            (640, 512, 3.0, Some(1))
        );
    }

    #[test]
    fn v2_ranges_match_fastapi() {
        let e = errs(r#"{"prompt":"x","width":4096}"#, ApiVersion::V2);
        assert_eq!(
            e,
            vec![json!({
                "type": "less_than_equal",
                "loc": ["body", "width"],
                "msg": "Input should be less than or equal to 1024",
                "input": 4096,
                "ctx": {"le": 1024}
            })]
        );
        let e = errs(
            r#"{"prompt":"x","height":8,"num_inference_steps":0,"seed":-1}"#,
            ApiVersion::V2,
        );
        let kinds: Vec<_> = e.iter().map(|i| i["loc"][1].clone()).collect();
        assert_eq!(
            kinds,
            vec![json!("num_inference_steps"), json!("height"), json!("seed")]
        );
        assert_eq!(e[0]["ctx"], json!({"ge": 1}));
        assert_eq!(e[2]["msg"], "Input should be greater than or equal to 0");
        let e = errs(r#"{"prompt":"x","seed":4294967296}"#, ApiVersion::V2);
        assert_eq!(e[0]["ctx"], json!({"le": 4294967295u64}));
        // The older API checks types only.
        let r = ok(r#"{"prompt":"x","width":4096,"seed":-1}"#, ApiVersion::V1);
        assert_eq!((r.width, r.seed), (4096, Some(-1)));
    }

    #[test]
    fn type_errors_are_collected() {
        let e = errs(
            r#"{"width":"wide","height":1.5,"guidance_scale":[],"prompt":7}"#,
            ApiVersion::V1,
        );
        let types: Vec<_> = e.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            vec!["string_type", "int_parsing", "int_from_float", "float_type"]
        );
        let e = errs(r#"{"width":512}"#, ApiVersion::V1);
        assert_eq!(e[0]["type"], "missing");
        assert_eq!(e[0]["loc"], json!(["body", "prompt"]));
        assert_eq!(e[0]["input"], json!({"width": 512}));
    }

    #[test]
    fn bodies_that_are_not_objects() {
        assert_eq!(errs("", ApiVersion::V1)[0]["type"], "missing");
        assert_eq!(errs("", ApiVersion::V1)[0]["loc"], json!(["body"]));
        let e = errs("{\"prompt\": ", ApiVersion::V1);
        assert_eq!(e[0]["type"], "json_invalid");
        assert_eq!(e[0]["loc"][0], "body");
        assert!(e[0]["loc"][1].is_u64());
        assert_eq!(
            errs("[1]", ApiVersion::V2)[0]["type"],
            "model_attributes_type"
        );
        assert_eq!(errs("\"x\"", ApiVersion::V2)[0]["loc"], json!(["body"]));
    }

    #[test]
    fn huge_numbers_never_panic() {
        let e = errs(r#"{"prompt":"x","width":1e300}"#, ApiVersion::V2);
        assert_eq!(e[0]["type"], "less_than_equal");
        let r = ok(r#"{"prompt":"x","seed":1e300}"#, ApiVersion::V1);
        assert_eq!(r.seed, Some(i128::MAX));
        assert!(int_value(i128::MAX).is_f64());
        assert_eq!(int_value(5), json!(5));
        assert_eq!(int_value(u64::MAX as i128), json!(u64::MAX));
        let r = ok(r#"{"prompt":"x","width":-5,"height":3}"#, ApiVersion::V1);
        assert_eq!(r.pixels(), 0.0);
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("prompt".to_string()),
                            Just("width".to_string()),
                            Just("height".to_string()),
                            Just("seed".to_string()),
                            Just("num_inference_steps".to_string()),
                            Just("guidance_scale".to_string()),
                            ".{0,6}",
                        ],
                        inner
                    ),
                    0..7
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            for v in [ApiVersion::V1, ApiVersion::V2] {
                if let Err(items) = parse(&bytes, v) {
                    proptest::prop_assert!(!items.is_empty());
                }
            }
        }

        #[test]
        fn any_json_parses_or_fails_with_fastapi_items(value in any_json()) {
            let bytes = serde_json::to_vec(&value).unwrap();
            for v in [ApiVersion::V1, ApiVersion::V2] {
                match parse(&bytes, v) {
                    Ok(r) => {
                        proptest::prop_assert!(r.pixels() >= 0.0);
                        if v == ApiVersion::V2 {
                            proptest::prop_assert!((256..=1024).contains(&r.width));
                            proptest::prop_assert!((1..=100).contains(&r.steps));
                        }
                    }
                    Err(items) => {
                        proptest::prop_assert!(!items.is_empty());
                        for item in items {
                            proptest::prop_assert!(item["type"].is_string());
                            proptest::prop_assert!(item["msg"].is_string());
                            proptest::prop_assert_eq!(&item["loc"][0], "body");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn empty_prompt_is_not_a_validation_error() {
        let r = ok(r#"{"prompt":"  "}"#, ApiVersion::V2);
        assert!(r.prompt_is_empty());
        assert!(!ok(r#"{"prompt":"a"}"#, ApiVersion::V2).prompt_is_empty());
    }
}
