//! The deployment files against what fluxprobe serves and reads: the image's port, start command
//! and health check; the compose stack's mounts, ports, scrape target, rules and dashboards; the
//! Kubernetes manifests' config mount, probes, Service, ServiceMonitor and PrometheusRule; the
//! systemd unit. Every configuration file shipped there must load with the daemon's own loader.
//! (tests/deploy_container.rs runs the same command lines; tests/deploy_image.rs checks the
//! image build.)

mod deploy_support;

use deploy_support::*;
use fluxprobe::cli::{Command, parse_duration};
use fluxprobe::serve::config::{ServeConfig, load_file, parse};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// The dashboards' datasource samples at this interval at the coarsest (its `timeInterval`);
/// scrapes must be at least as frequent.
const MAX_SCRAPE_INTERVAL: Duration = Duration::from_secs(15);

fn load(rel: &str) -> ServeConfig {
    load_file(&repo_file(rel)).unwrap_or_else(|e| panic!("{rel} does not load: {e}"))
}

fn compose() -> Value {
    yaml("deploy/compose/compose.yaml")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose
        .pointer(&format!("/services/{name}"))
        .unwrap_or_else(|| panic!("compose.yaml has no service {name}"))
}

/// `--flag=value` or `--flag value` in an argument list.
fn flag(args: &[String], name: &str) -> Option<String> {
    let eq = format!("{name}=");
    args.iter().enumerate().find_map(|(i, a)| {
        a.strip_prefix(&eq)
            .map(str::to_string)
            .or_else(|| (a == name).then(|| args.get(i + 1).cloned()).flatten())
    })
}

/// The image's binary path, user and environment.
struct Image {
    binary: String,
    uid: u32,
    env: BTreeMap<String, String>,
}

fn image() -> Image {
    let d = Dockerfile::load();
    let entry = d.exec_form("ENTRYPOINT");
    assert_eq!(entry.len(), 1, "ENTRYPOINT is the binary alone: {entry:?}");
    let user = &d.runtime().last("USER").expect("the image sets USER").args;
    let mut ids = user.split(':');
    let uid = ids
        .next()
        .and_then(|u| u.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("USER {user} is not numeric (runAsNonRoot needs a number)"));
    if let Some(gid) = ids.next() {
        assert!(
            gid.parse::<u32>().is_ok(),
            "USER group {gid} is not numeric"
        );
    }
    Image {
        binary: entry[0].clone(),
        uid,
        env: d.runtime().env(),
    }
}

/// The `job="…"` names the alert rules look for.
fn rule_job_names(rules_text: &str) -> BTreeSet<String> {
    rules_text
        .match_indices("job=\"")
        .map(|(i, m)| {
            let rest = &rules_text[i + m.len()..];
            rest[..rest.find('"').expect("closing quote")].to_string()
        })
        .collect()
}

fn labels_subset(sub: &Value, sup: &Value, what: &str) {
    let sub = sub
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no labels"));
    for (k, v) in sub {
        assert_eq!(sup.get(k), Some(v), "{what}: label {k}={v} is missing");
    }
}

// ---- the image --------------------------------------------------------------------------------

#[test]
fn the_image_runs_the_daemon_on_its_default_port() {
    let d = Dockerfile::load();
    let img = image();

    // ENTRYPOINT + CMD is `fluxprobe serve`, reading its file from FLUXPROBE_CONFIG.
    let cmd = d.exec_form("CMD");
    let Command::Serve(serve) = parse_cli(&cmd).command else {
        panic!("the default command {cmd:?} is not `serve`")
    };
    assert!(
        serve.listen.is_none(),
        "the port comes from the configuration"
    );
    let var = cli_env("serve", "config").expect("serve --config reads an environment variable");
    let config_path = img
        .env
        .get(&var)
        .unwrap_or_else(|| panic!("the image does not set {var}"));
    assert!(config_path.starts_with('/'), "{var}={config_path}");

    // The binary is where ENTRYPOINT says.
    let copies = d.runtime().all("COPY");
    assert!(
        copies.iter().any(|c| c.args.ends_with(&img.binary)),
        "no COPY puts the binary at {}",
        img.binary
    );

    // EXPOSE is the daemon's default port.
    let exposed: Vec<u16> = d
        .runtime()
        .all("EXPOSE")
        .iter()
        .flat_map(|e| e.args.split_whitespace())
        .map(|p| p.trim_end_matches("/tcp").parse().expect("EXPOSE port"))
        .collect();
    assert_eq!(exposed, [default_listen_port()]);

    // HEALTHCHECK: the same binary's `healthcheck`, in exec form, asking the default port on
    // loopback, and given longer than the check's own timeout.
    let (opts, hc) = d.healthcheck();
    assert_eq!(hc[0], img.binary, "HEALTHCHECK runs another binary");
    let Command::Healthcheck(h) = parse_cli(&hc[1..]).command else {
        panic!("HEALTHCHECK {hc:?} is not `fluxprobe healthcheck`")
    };
    let url = url::Url::parse(&h.url).expect("healthcheck URL");
    assert_eq!(url.port(), Some(default_listen_port()), "{}", h.url);
    assert!(
        matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
        "{}",
        h.url
    );
    assert_eq!(
        url.port(),
        Some(port_of(&cli_default("healthcheck", "url"))),
        "the HEALTHCHECK relies on the default --url"
    );
    let docker_timeout = parse_duration(opts.get("timeout").expect("HEALTHCHECK --timeout"))
        .expect("HEALTHCHECK --timeout parses");
    assert!(
        docker_timeout > h.timeout,
        "HEALTHCHECK --timeout {docker_timeout:?} must exceed the check's own {:?}",
        h.timeout
    );

    assert_ne!(img.uid, 0, "the image runs as root");
}

// ---- compose ----------------------------------------------------------------------------------

/// The prober's configuration path in the container and the file mounted there.
fn compose_prober_config(c: &Value) -> (String, Mount) {
    let svc = service(c, "fluxprobe");
    let var = cli_env("serve", "config").expect("serve --config reads an environment variable");
    let path = environment(svc)
        .get(&var)
        .cloned()
        .or_else(|| image().env.get(&var).cloned())
        .unwrap_or_else(|| panic!("neither compose nor the image sets {var}"));
    let m = mount_at(&mounts(svc, "fluxprobe"), &path)
        .unwrap_or_else(|| panic!("nothing is mounted at {path}, where fluxprobe reads its config"))
        .clone();
    assert!(m.read_only, "the configuration mount should be read-only");
    (path, m)
}

#[test]
fn compose_prober_reads_its_mounted_config_and_serves_the_published_port() {
    let c = compose();
    let svc = service(&c, "fluxprobe");
    let img = image();

    // Built from the repository's Dockerfile; the image's default command (serve).
    let ctx = str_at(svc, "/build/context", "fluxprobe.build");
    let dockerfile = str_at(svc, "/build/dockerfile", "fluxprobe.build");
    assert_eq!(compose_source(ctx), normalise(&root()));
    assert!(compose_source(ctx).join(dockerfile).is_file());
    if let Some(cmd) = svc.get("command") {
        assert!(matches!(
            parse_cli(&strings(cmd, "command")).command,
            Command::Serve(_)
        ));
    }
    assert!(
        svc.pointer("/healthcheck/disable") != Some(&Value::Bool(true)),
        "the prober keeps the image's HEALTHCHECK"
    );

    let (path, m) = compose_prober_config(&c);
    assert_eq!(
        m.source, "./fluxprobe/fluxprobe.yml",
        "the simulator configuration"
    );
    let cfg = load(&format!("{COMPOSE_DIR}/{}", m.source));
    assert!(path.ends_with(".yml") || path.ends_with(".yaml"));

    let port = cfg.listen.port();
    assert_eq!(port, default_listen_port());
    assert!(
        cfg.listen.ip().is_unspecified(),
        "listen on every interface"
    );
    assert!(container_ports(svc, "fluxprobe").contains(&port));
    assert!(img.env.contains_key("FLUXPROBE_CONFIG"));
}

#[test]
fn compose_prober_probes_the_simulator_often_enough_to_fill_the_dashboards() {
    let c = compose();
    let sim = service(&c, "simulator");
    let prober = service(&c, "fluxprobe");
    assert_eq!(sim.get("image"), prober.get("image"), "one image for both");
    assert_eq!(sim.get("build"), prober.get("build"), "one build for both");
    assert_eq!(
        sim.pointer("/healthcheck/disable"),
        Some(&Value::Bool(true)),
        "the image's HEALTHCHECK asks a daemon the simulator does not run"
    );

    let cmd = strings(sim.get("command").expect("simulator command"), "command");
    let Command::Simulate(s) = parse_cli(&cmd).command else {
        panic!("the simulator runs {cmd:?}, not `simulate`")
    };
    let listen: std::net::SocketAddr = s.listen.parse().expect("simulator --listen");
    assert!(
        listen.ip().is_unspecified(),
        "the simulator must listen beyond loopback to be reached from the prober"
    );
    assert!(container_ports(sim, "simulator").contains(&listen.port()));
    assert!(s.time_scale > 0.0, "the stack shows real timings");

    let (_, m) = compose_prober_config(&c);
    let cfg = load(&format!("{COMPOSE_DIR}/{}", m.source));
    for t in &cfg.targets {
        assert_eq!(t.url.host_str(), Some("simulator"), "{}", t.name);
        assert_eq!(t.url.port(), Some(listen.port()), "{}", t.name);
        let trickle = t.trickle.expect("a trickle");
        assert!(trickle.interval <= MAX_SCRAPE_INTERVAL, "{}", t.name);
        assert!(t.status_interval <= MAX_SCRAPE_INTERVAL, "{}", t.name);
    }
    // A burst every few minutes: the largest gap between firings over a day.
    let start = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let bursts: Vec<_> = cfg.targets.iter().flat_map(|t| &t.bursts).collect();
    assert!(!bursts.is_empty(), "the burst panels need a burst");
    let gap = bursts
        .iter()
        .map(|b| {
            let mut at = start;
            let mut widest = chrono::Duration::zero();
            while at < start + chrono::Duration::days(1) {
                let next = fluxprobe::serve::schedule::next_fire(&b.schedule.cron, b.timezone, at)
                    .expect("the burst fires");
                widest = widest.max(next - at);
                at = next;
            }
            widest
        })
        .min()
        .unwrap();
    assert!(gap <= chrono::Duration::minutes(5), "bursts {gap} apart");
}

#[test]
fn compose_flux_override_probes_flux_url_instead() {
    let c = compose();
    let o = yaml("deploy/compose/compose.flux.yaml");
    let (path, base) = compose_prober_config(&c);

    assert!(
        !array_at(&o, "/services/simulator/profiles", "compose.flux.yaml").is_empty(),
        "the override moves the simulator to a profile"
    );
    assert_eq!(
        c.pointer("/services/fluxprobe/depends_on/simulator/required"),
        Some(&Value::Bool(false)),
        "the prober must start without the simulator"
    );
    let env = environment(o.pointer("/services/fluxprobe").unwrap());
    assert!(
        env.get("FLUX_URL")
            .is_some_and(|v| v.starts_with("${FLUX_URL:?")),
        "the override insists on FLUX_URL: {env:?}"
    );
    let m = mount_at(&mounts(&o["services"]["fluxprobe"], "override"), &path)
        .unwrap_or_else(|| panic!("the override mounts nothing at {path}"))
        .clone();
    assert_ne!(m.source, base.source);

    let rel = format!("{COMPOSE_DIR}/{}", m.source);
    let text = read(&rel);
    let url = "http://flux.test:8000/";
    let with = |name: &str| (name == "FLUX_URL").then(|| url.to_string());
    let cfg = parse(&text, &rel, &with).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.listen.port(), default_listen_port());
    assert!(cfg.targets.iter().all(|t| t.url.as_str() == url));
    let without = |_: &str| None;
    assert!(
        parse(&text, &rel, &without).is_err(),
        "the FLUX config must need FLUX_URL"
    );
}

#[test]
fn compose_prometheus_scrapes_the_prober_and_loads_the_rules() {
    let c = compose();
    let svc = service(&c, "prometheus");
    let args = strings(svc.get("command").expect("prometheus command"), "command");
    let cfg_path = flag(&args, "--config.file").expect("--config.file");
    let ms = mounts(svc, "prometheus");
    let m = mount_at(&ms, &cfg_path).expect("prometheus.yml is mounted where it is read");
    let p = yaml(&format!("{COMPOSE_DIR}/{}", m.source));

    let every = |ptr: &str| parse_duration(str_at(&p, ptr, "prometheus.yml")).unwrap();
    assert!(every("/global/scrape_interval") <= MAX_SCRAPE_INTERVAL);
    assert!(every("/global/evaluation_interval") <= MAX_SCRAPE_INTERVAL);

    // The fluxprobe job: the prober's service and port, its metrics path, a prober label.
    let jobs = array_at(&p, "/scrape_configs", "prometheus.yml");
    let job = jobs
        .iter()
        .find(|j| j["job_name"] == "fluxprobe")
        .expect("a job named fluxprobe");
    let path = job
        .get("metrics_path")
        .and_then(Value::as_str)
        .unwrap_or("/metrics");
    assert_eq!(path, "/metrics");
    let (_, pm) = compose_prober_config(&c);
    let listen = load(&format!("{COMPOSE_DIR}/{}", pm.source)).listen.port();
    let sc = &array_at(job, "/static_configs", "fluxprobe job")[0];
    assert_eq!(
        strings(&sc["targets"], "targets"),
        [format!("fluxprobe:{listen}")]
    );
    assert!(sc.pointer("/labels/prober").is_some(), "a prober label");

    // Alertmanager by its service name and port.
    let am = &array_at(&p, "/alerting/alertmanagers", "prometheus.yml")[0];
    let am_target = strings(&am["static_configs"][0]["targets"], "alertmanagers")[0].clone();
    let (host, port) = am_target.split_once(':').unwrap();
    let am_svc = service(&c, host);
    assert!(container_ports(am_svc, host).contains(&port.parse().unwrap()));
    let am_args = strings(&am_svc["command"], "alertmanager command");
    let am_cfg = flag(&am_args, "--config.file").expect("alertmanager --config.file");
    let am_mounts = mounts(am_svc, host);
    let am_m = mount_at(&am_mounts, &am_cfg).expect("alertmanager.yml mounted");
    assert!(compose_source(&am_m.source).is_file());

    // The rule files, through the mount of alerts/.
    let rule_files = strings(&p["rule_files"], "rule_files");
    assert!(!rule_files.is_empty());
    for rf in &rule_files {
        let (m, rest) = mount_holding(&ms, rf).unwrap_or_else(|| panic!("{rf} is not mounted"));
        assert_eq!(compose_source(&m.source), repo_file("alerts"));
        if present("alerts/fluxprobe.rules.yml", "the rule file check") {
            let file = compose_source(&m.source).join(&rest);
            assert!(file.is_file(), "{rf} → {}", file.display());
            let jobs_in_rules = rule_job_names(&std::fs::read_to_string(file).unwrap());
            assert!(
                jobs_in_rules.iter().all(|j| j == "fluxprobe"),
                "the rules look for jobs {jobs_in_rules:?}"
            );
        }
    }
}

#[test]
fn compose_grafana_provisions_the_dashboards_where_the_provider_reads_them() {
    if !present("dashboards/provisioning", "the Grafana checks") {
        return;
    }
    let c = compose();
    let svc = service(&c, "grafana");
    let ms = mounts(svc, "grafana");

    let prov = mount_at(&ms, "/etc/grafana/provisioning").expect("provisioning mount");
    assert_eq!(
        compose_source(&prov.source),
        repo_file("dashboards/provisioning")
    );

    let mut providers = 0;
    for entry in std::fs::read_dir(repo_file("dashboards/provisioning/dashboards")).unwrap() {
        let file = entry.unwrap().path();
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for p in array_at(&yaml(&rel), "/providers", &rel) {
            providers += 1;
            let dir = str_at(p, "/options/path", &rel);
            let (m, rest) =
                mount_holding(&ms, dir).unwrap_or_else(|| panic!("nothing mounted at {dir}"));
            let host_dir = compose_source(&m.source).join(rest);
            for d in std::fs::read_dir(repo_file("dashboards")).unwrap() {
                let d = d.unwrap().path();
                if d.extension().is_some_and(|e| e == "json") {
                    assert!(host_dir.join(d.file_name().unwrap()).is_file());
                }
            }
        }
    }
    assert!(providers > 0, "no dashboard provider");

    // The datasource names the Prometheus service; the home dashboard is mounted.
    for entry in std::fs::read_dir(repo_file("dashboards/provisioning/datasources")).unwrap() {
        let file = entry.unwrap().path();
        let rel = file
            .strip_prefix(root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for ds in array_at(&yaml(&rel), "/datasources", &rel) {
            let url = url::Url::parse(str_at(ds, "/url", &rel)).expect("datasource URL");
            let host = url.host_str().unwrap();
            let prom = service(&c, host);
            assert!(container_ports(prom, host).contains(&url.port().unwrap()));
            if let Some(ti) = ds.pointer("/jsonData/timeInterval").and_then(Value::as_str) {
                assert!(parse_duration(ti).unwrap() <= MAX_SCRAPE_INTERVAL);
            }
        }
    }
    let home = environment(svc)
        .get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
        .cloned()
        .expect("a home dashboard");
    let (m, rest) = mount_holding(&ms, &home).expect("home dashboard mounted");
    assert!(compose_source(&m.source).join(rest).is_file());
}

// ---- Kubernetes -------------------------------------------------------------------------------

const K8S: &str = "deploy/kubernetes";

struct Prober {
    deployment: Value,
    service: Value,
    /// The configuration file in the repository.
    config_rel: String,
    /// Where the container reads it.
    config_path: String,
}

fn k8s_prober() -> Prober {
    let kz = yaml(&format!("{K8S}/prober/kustomization.yaml"));
    let generator = &array_at(&kz, "/configMapGenerator", "prober kustomization")[0];
    let cm_name = str_at(generator, "/name", "configMapGenerator");
    let files = strings(&generator["files"], "configMapGenerator files");
    assert_eq!(files.len(), 1, "one configuration file");
    let key = files[0]
        .rsplit_once('=')
        .map_or(files[0].as_str(), |(k, _)| k);
    let file = files[0]
        .rsplit_once('=')
        .map_or(files[0].as_str(), |(_, f)| f);

    let dep = yaml(&format!("{K8S}/prober/deployment.yaml"));
    let pod = &dep["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let vol = array_at(pod, "/volumes", "pod volumes")
        .iter()
        .find(|v| v.pointer("/configMap/name").and_then(Value::as_str) == Some(cm_name))
        .expect("a volume of the generated ConfigMap");
    let vol_name = str_at(vol, "/name", "volume");
    let vm = array_at(container, "/volumeMounts", "container")
        .iter()
        .find(|m| m["name"] == vol_name)
        .expect("the config volume is mounted");
    assert!(vm.get("subPath").is_none(), "subPath mounts never update");
    assert_eq!(vm["readOnly"], Value::Bool(true));
    let config_path = format!(
        "{}/{key}",
        str_at(vm, "/mountPath", "volumeMount").trim_end_matches('/')
    );
    Prober {
        service: yaml(&format!("{K8S}/prober/service.yaml")),
        deployment: dep,
        config_rel: format!("{K8S}/prober/{file}"),
        config_path,
    }
}

#[test]
fn kubernetes_prober_reads_the_config_map_and_serves_the_probed_port() {
    let p = k8s_prober();
    let img = image();
    let pod = &p.deployment["spec"]["template"]["spec"];
    let c = &pod["containers"][0];

    // `serve --config PATH`, PATH being the ConfigMap's file in the container.
    let args = strings(&c["args"], "args");
    let Command::Serve(serve) = parse_cli(&args).command else {
        panic!("the container runs {args:?}, not serve")
    };
    assert!(c.get("command").is_none(), "the image's ENTRYPOINT is kept");
    assert_eq!(
        serve.config.as_deref(),
        Some(Path::new(&p.config_path)),
        "--config names the mounted file"
    );
    let cfg = load(&p.config_rel);

    // The metrics port: the configuration's, the container's, the probes' and the Service's.
    let port = cfg.listen.port();
    assert_eq!(port, default_listen_port());
    let cport = array_at(c, "/ports", "container")
        .iter()
        .find(|cp| cp["name"] == "metrics")
        .expect("a container port named metrics");
    assert_eq!(cport["containerPort"], port);
    assert_eq!(
        c.pointer("/livenessProbe/httpGet/path"),
        Some(&"/-/healthy".into())
    );
    assert_eq!(
        c.pointer("/livenessProbe/httpGet/port"),
        Some(&"metrics".into())
    );
    assert_eq!(
        c.pointer("/readinessProbe/httpGet/path"),
        Some(&"/-/ready".into())
    );
    assert_eq!(
        c.pointer("/readinessProbe/httpGet/port"),
        Some(&"metrics".into())
    );
    let sport = array_at(&p.service, "/spec/ports", "service")
        .iter()
        .find(|sp| sp["name"] == "metrics")
        .expect("a Service port named metrics");
    assert_eq!(sport["port"], port);
    assert_eq!(sport["targetPort"], "metrics");

    // Selectors find the pods.
    let pod_labels = &p.deployment["spec"]["template"]["metadata"]["labels"];
    labels_subset(
        &p.service["spec"]["selector"],
        pod_labels,
        "Service selector",
    );
    labels_subset(
        &p.deployment["spec"]["selector"]["matchLabels"],
        pod_labels,
        "Deployment selector",
    );

    // Locked down, as the image allows.
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(
        sc.pointer("/capabilities/drop"),
        Some(&serde_json::json!(["ALL"]))
    );
    assert_eq!(
        sc.pointer("/seccompProfile/type"),
        Some(&"RuntimeDefault".into())
    );
    assert_eq!(
        pod.pointer("/securityContext/runAsNonRoot"),
        Some(&true.into())
    );
    assert_eq!(
        pod.pointer("/securityContext/runAsUser"),
        Some(&img.uid.into()),
        "the image's USER"
    );
    for r in [
        "/resources/requests/cpu",
        "/resources/requests/memory",
        "/resources/limits/memory",
    ] {
        assert!(c.pointer(r).is_some(), "no {r}");
    }
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap_or(30);
    assert!(
        Duration::from_secs(grace) > cfg.grace_period,
        "Kubernetes must wait longer than grace_period"
    );

    // The image tag follows the crate version.
    let kz = yaml(&format!("{K8S}/kustomization.yaml"));
    let image = str_at(c, "/image", "container");
    let entry = array_at(&kz, "/images", "kustomization")
        .iter()
        .find(|i| i["name"] == image)
        .expect("kustomization sets the image");
    assert_eq!(entry["newTag"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn kubernetes_example_probers_have_loadable_configs_and_their_own_label() {
    let dir = repo_file(&format!("{K8S}/examples/several-probers"));
    let top = yaml(&format!(
        "{K8S}/examples/several-probers/kustomization.yaml"
    ));
    let mut names = BTreeSet::new();
    for r in strings(&top["resources"], "resources") {
        if r.contains("..") {
            continue; // the shared monitoring part
        }
        let rel = format!("{K8S}/examples/several-probers/{r}");
        let kz = yaml(&format!("{rel}/kustomization.yaml"));
        let pairs = &array_at(&kz, "/labels", &rel)[0];
        assert_eq!(pairs["includeSelectors"], true, "{rel}: own selectors");
        let name = str_at(pairs, "/pairs/prober", &rel).to_string();
        assert!(names.insert(name.clone()), "prober {name} twice");
        let cfg = load(&format!("{rel}/fluxprobe.yml"));
        assert_eq!(cfg.listen.port(), default_listen_port(), "{rel}");
        let g = &array_at(&kz, "/configMapGenerator", &rel)[0];
        assert_eq!(g["behavior"], "replace");
        assert_eq!(g["name"], "fluxprobe-config");
    }
    assert!(names.len() >= 2, "{}: several probers", dir.display());
}

#[test]
fn kubernetes_service_monitor_scrapes_every_prober_as_job_fluxprobe() {
    let p = k8s_prober();
    let sm = yaml(&format!("{K8S}/monitoring/servicemonitor.yaml"));
    let svc_labels = &p.service["metadata"]["labels"];
    labels_subset(
        &sm["spec"]["selector"]["matchLabels"],
        svc_labels,
        "ServiceMonitor selector",
    );

    let ep = &array_at(&sm, "/spec/endpoints", "ServiceMonitor")[0];
    assert_eq!(ep["port"], "metrics", "the Service port name");
    assert_eq!(ep["path"], "/metrics");
    assert!(parse_duration(str_at(ep, "/interval", "endpoint")).unwrap() <= MAX_SCRAPE_INTERVAL);

    // job="fluxprobe", as in the compose stack and the rules.
    let job_label = str_at(&sm, "/spec/jobLabel", "ServiceMonitor");
    assert_eq!(svc_labels[job_label], "fluxprobe");
    if present("alerts/fluxprobe.rules.yml", "the job name in the rules") {
        let jobs = rule_job_names(&read("alerts/fluxprobe.rules.yml"));
        assert!(jobs.iter().all(|j| j == "fluxprobe"), "{jobs:?}");
    }
    // The prober label travels from the Service to every series.
    let target_labels = strings(&sm["spec"]["targetLabels"], "targetLabels");
    assert!(target_labels.iter().any(|l| l == "prober"));
    assert!(
        svc_labels.get("prober").is_some(),
        "the Service has a prober label"
    );

    let monitoring = yaml(&format!("{K8S}/monitoring/kustomization.yaml"));
    let res = strings(&monitoring["resources"], "resources");
    assert!(res.contains(&"servicemonitor.yaml".to_string()));
    assert!(res.contains(&"prometheusrule.yaml".to_string()));
}

#[test]
fn kubernetes_prometheus_rule_carries_the_rule_file_unchanged() {
    if !present(
        "alerts/fluxprobe.rules.yml",
        "the PrometheusRule comparison",
    ) {
        return;
    }
    let rel = format!("{K8S}/monitoring/prometheusrule.yaml");
    let text = read(&rel);
    assert!(
        text.starts_with("# GENERATED by scripts/gen-prometheusrule.py"),
        "{rel} is generated, not written"
    );
    let pr = yaml(&rel);
    assert_eq!(pr["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(pr["kind"], "PrometheusRule");
    let rules = yaml("alerts/fluxprobe.rules.yml");
    assert_eq!(
        pr["spec"]["groups"], rules["groups"],
        "{rel} is out of date: run python3 scripts/gen-prometheusrule.py"
    );
}

// ---- systemd ----------------------------------------------------------------------------------

#[test]
fn systemd_unit_runs_serve_with_the_checked_config_and_reloads_by_sighup() {
    let unit = read("deploy/systemd/fluxprobe.service");
    let value = |key: &str| -> String {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("the unit has no {key}"))
            .to_string()
    };
    let argv =
        |key: &str| -> Vec<String> { value(key).split_whitespace().map(str::to_string).collect() };
    let img = image();

    let start = argv("ExecStart");
    assert_eq!(start[0], img.binary, "the same install path as the image");
    let Command::Serve(serve) = parse_cli(&start[1..]).command else {
        panic!("ExecStart is not serve")
    };
    let config = serve.config.expect("ExecStart names its --config");

    let pre = argv("ExecStartPre");
    let Command::CheckConfig(check) = parse_cli(&pre[1..]).command else {
        panic!("ExecStartPre is not check-config")
    };
    assert_eq!(
        check.file, config,
        "check-config checks the file serve reads"
    );
    assert!(
        value("ExecReload").contains("-HUP"),
        "serve reloads on SIGHUP"
    );
    let stop = parse_duration(&value("TimeoutStopSec")).unwrap();
    assert!(stop > fluxprobe::serve::config::DEFAULT_GRACE);
}

// ---- the test helpers themselves ----------------------------------------------------------------

#[test]
fn dockerfile_parser_joins_lines_and_reads_exec_forms() {
    let d = Dockerfile::parse(
        "# syntax=docker/dockerfile:1\nARG V=1.2\nFROM a:${V} AS build\nRUN x \\\n  # note\n  && y\nFROM b\nENV A=1 B=\"two words\"\nHEALTHCHECK --interval=5s --retries=2 \\\n  CMD [\"/bin/x\", \"hc\"]\nENTRYPOINT [\"/bin/x\"]\nCMD [\"serve\"]\n",
    );
    assert_eq!(d.global_args["V"], "1.2");
    assert_eq!(d.stages.len(), 2);
    assert_eq!(d.stage("build").all("RUN")[0].args, "x && y");
    assert_eq!(d.runtime().env()["A"], "1");
    assert_eq!(d.runtime().env()["B"], "two words");
    let (opts, cmd) = d.healthcheck();
    assert_eq!(opts["interval"], "5s");
    assert_eq!(opts["retries"], "2");
    assert_eq!(cmd, ["/bin/x", "hc"]);
    assert_eq!(d.exec_form("CMD"), ["serve"]);
}

#[test]
fn compose_helpers_read_mounts_ports_and_flags() {
    let s = serde_json::json!({
        "volumes": ["./a.yml:/etc/a/a.yml:ro", "../../d:/var/d"],
        "ports": ["127.0.0.1:9464:9464", "8000:8001/tcp"],
        "environment": ["A=1", "B"]
    });
    let m = mounts(&s, "t");
    assert!(m[0].read_only && !m[1].read_only);
    assert_eq!(mount_holding(&m, "/var/d/x/y.json").unwrap().1, "x/y.json");
    assert!(mount_holding(&m, "/var/dx").is_none());
    assert_eq!(container_ports(&s, "t"), [9464, 8001]);
    assert_eq!(environment(&s)["A"], "1");
    let args: Vec<String> = ["--a=1", "--b", "2"].map(String::from).into();
    assert_eq!(flag(&args, "--a").as_deref(), Some("1"));
    assert_eq!(flag(&args, "--b").as_deref(), Some("2"));
    assert_eq!(flag(&args, "--c"), None);
    assert_eq!(
        rule_job_names("up{job=\"a\"} or up{job=\"b\"}"),
        BTreeSet::from(["a".to_string(), "b".to_string()])
    );
}
