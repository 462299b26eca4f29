//! Validation of a pod's containers (upstream's `validateContainers`, `validateInitContainers`
//! and `validateContainerCommon`): names, images, ports, environment, mounts, probes, resources.

use super::{PROTOCOLS, VolumeNames, not_supported_unless};
use crate::resources::core::resources::validate_container_resources;
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, HTTPGetAction, Lifecycle, LifecycleHandler,
    Probe, SecurityContext, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};
use std::collections::BTreeSet;

/// Downward API fields an environment variable may take.
const ENV_FIELD_PATHS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// What container validation needs from the rest of the pod.
pub struct PodContext<'a> {
    /// Names of the pod's valid volumes.
    pub volumes: &'a VolumeNames,
    /// `terminationGracePeriodSeconds`, bounding sleep actions.
    pub grace_period: Option<i64>,
    /// The pod's `restartPolicy`.
    pub restart_policy: &'a str,
}

/// Validate the regular containers.
pub fn validate_containers(
    containers: &[Container],
    ctx: &PodContext<'_>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if containers.is_empty() {
        errs.push(FieldError::required(path.clone(), ""));
        return errs;
    }
    let mut names = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, ctx, &p));
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(p.child("name"), c.name.as_str()));
        }
        errs.extend(validate_lifecycle_and_probes(c, ctx, &p));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                p.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(check_host_port_conflicts(containers, path));
    errs
}

/// Validate the init containers; their names must not repeat regular containers' names.
pub fn validate_init_containers(
    init: &[Container],
    regular: &[Container],
    ctx: &PodContext<'_>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut names: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in init.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_container_common(c, ctx, &p));
        let restart_always = c.restart_policy.as_deref() == Some("Always");
        if let Some(policy) = c.restart_policy.as_deref() {
            errs.extend(not_supported_unless(
                policy,
                &["Always"],
                &p.child("restartPolicy"),
            ));
        }
        if names.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(p.child("name"), c.name.as_str()));
        } else if !c.name.is_empty() {
            names.insert(c.name.as_str());
        }
        errs.extend(check_host_port_conflicts(std::slice::from_ref(c), path));
        if restart_always {
            errs.extend(validate_lifecycle_and_probes(c, ctx, &p));
        } else {
            errs.extend(forbid_init_probes(c, &p));
        }
    }
    errs
}

fn forbid_init_probes(c: &Container, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let set = [
        ("lifecycle", c.lifecycle.is_some()),
        ("livenessProbe", c.liveness_probe.is_some()),
        ("readinessProbe", c.readiness_probe.is_some()),
        ("startupProbe", c.startup_probe.is_some()),
    ];
    for (field, _) in set.iter().filter(|(_, on)| *on) {
        errs.push(FieldError::forbidden(
            p.child(field),
            "may not be set for init containers without restartPolicy=Always",
        ));
    }
    errs
}

/// Rules every kind of container follows.
pub fn validate_container_common(c: &Container, ctx: &PodContext<'_>, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if c.name.is_empty() {
        errs.push(FieldError::required(p.child("name"), ""));
    } else {
        errs.extend(v::validate_dns1123_label(&c.name, &p.child("name")));
    }
    if c.image.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required(p.child("image"), ""));
    }
    errs.extend(required_enum(
        c.termination_message_policy.as_deref(),
        &["File", "FallbackToLogsOnError"],
        &p.child("terminationMessagePolicy"),
    ));
    errs.extend(validate_ports(
        c.ports.as_deref().unwrap_or(&[]),
        &p.child("ports"),
    ));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or(&[]),
        &p.child("env"),
    ));
    errs.extend(validate_env_from(
        c.env_from.as_deref().unwrap_or(&[]),
        &p.child("envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        c,
        ctx.volumes,
        &p.child("volumeMounts"),
    ));
    errs.extend(required_enum(
        c.image_pull_policy.as_deref(),
        &["Always", "IfNotPresent", "Never"],
        &p.child("imagePullPolicy"),
    ));
    errs.extend(validate_container_resources(
        c.resources.as_ref(),
        &p.child("resources"),
    ));
    errs.extend(validate_resize_policy(
        c,
        ctx.restart_policy,
        &p.child("resizePolicy"),
    ));
    errs.extend(validate_security_context(
        c.security_context.as_ref(),
        &p.child("securityContext"),
    ));
    errs
}

/// An enum field that must be set: `Required value` when empty, `Unsupported value` when not
/// one of `supported`.
pub fn required_enum(value: Option<&str>, supported: &[&str], path: &FieldPath) -> ErrorList {
    match value.unwrap_or("") {
        "" => vec![FieldError::required(path.clone(), "")].into(),
        value => not_supported_unless(value, supported, path),
    }
}

fn validate_ports(ports: &[ContainerPort], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            let msgs = v::is_valid_port_name(name);
            if !msgs.is_empty() {
                errs.extend(v::wrap(msgs, name, &p.child("name")));
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(p.child("containerPort"), ""));
        } else {
            errs.extend(port_num(port.container_port, &p.child("containerPort")));
        }
        if let Some(hp) = port.host_port.filter(|hp| *hp != 0) {
            errs.extend(port_num(hp, &p.child("hostPort")));
        }
        errs.extend(required_enum(
            port.protocol.as_deref(),
            &PROTOCOLS,
            &p.child("protocol"),
        ));
    }
    errs
}

/// A port number at `path` (1-65535).
pub fn port_num(port: i32, path: &FieldPath) -> ErrorList {
    v::is_valid_port_num(i64::from(port))
        .into_iter()
        .map(|m| FieldError::invalid(path.clone(), port, m))
        .collect::<Vec<_>>()
        .into()
}

/// Upstream's `ValidatePortNumOrName`.
pub fn port_num_or_name(port: &IntOrString, path: &FieldPath) -> ErrorList {
    match port {
        IntOrString::Int(n) => port_num(*n, path),
        IntOrString::String(s) => v::wrap(v::is_valid_port_name(s), s, path),
    }
}

fn validate_env(vars: &[EnvVar], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ev) in vars.iter().enumerate() {
        let p = path.index(i);
        if ev.name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        } else {
            errs.extend(v::wrap(
                v::is_env_var_name(&ev.name),
                &ev.name,
                &p.child("name"),
            ));
        }
        errs.extend(validate_env_value_from(ev, &p.child("valueFrom")));
    }
    errs
}

fn validate_env_value_from(ev: &EnvVar, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(from) = ev.value_from.as_ref() else {
        return errs;
    };
    let mut sources = 0;
    if let Some(f) = from.field_ref.as_ref() {
        sources += 1;
        errs.extend(validate_field_ref(
            f.api_version.as_deref(),
            &f.field_path,
            &ENV_FIELD_PATHS,
            &path.child("fieldRef"),
        ));
    }
    if let Some(r) = from.resource_field_ref.as_ref() {
        sources += 1;
        if r.resource.is_empty() {
            errs.push(FieldError::required(
                path.child("resourceFieldRef").child("resource"),
                "",
            ));
        }
    }
    if let Some(s) = from.config_map_key_ref.as_ref() {
        sources += 1;
        errs.extend(validate_key_selector(
            &s.name,
            &s.key,
            &path.child("configMapKeyRef"),
        ));
    }
    if let Some(s) = from.secret_key_ref.as_ref() {
        sources += 1;
        errs.extend(validate_key_selector(
            &s.name,
            &s.key,
            &path.child("secretKeyRef"),
        ));
    }
    let detail = match sources {
        0 => Some(
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
        ),
        _ if !ev.value.as_deref().unwrap_or("").is_empty() => {
            Some("may not be specified when `value` is not empty")
        }
        n if n > 1 => Some("may not have more than one field specified at a time"),
        _ => None,
    };
    if let Some(d) = detail {
        errs.push(FieldError::invalid(path.clone(), "", d));
    }
    errs
}

/// A downward API field reference: apiVersion and fieldPath required, the path one of
/// `allowed` or a subscripted label/annotation.
pub fn validate_field_ref(
    api_version: Option<&str>,
    field_path: &str,
    allowed: &[&str],
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if api_version.unwrap_or("").is_empty() {
        errs.push(FieldError::required(path.child("apiVersion"), ""));
        return errs;
    }
    if field_path.is_empty() {
        errs.push(FieldError::required(path.child("fieldPath"), ""));
        return errs;
    }
    if let Some((base, rest)) = field_path.split_once("['") {
        let key = rest.strip_suffix("']").unwrap_or(rest);
        match base {
            "metadata.annotations" => {
                errs.extend(v::validate_qualified_name(&key.to_lowercase(), path))
            }
            "metadata.labels" => errs.extend(v::validate_qualified_name(key, path)),
            _ => errs.push(FieldError::invalid(
                path.clone(),
                base,
                "does not support subscript",
            )),
        }
    } else if !allowed.contains(&field_path) {
        let mut sorted = allowed.to_vec();
        sorted.sort_unstable();
        errs.push(FieldError::not_supported(
            path.child("fieldPath"),
            field_path,
            &sorted,
        ));
    }
    errs
}

fn validate_key_selector(name: &str, key: &str, path: &FieldPath) -> ErrorList {
    let mut errs = v::wrap(v::is_dns1123_subdomain(name), name, &path.child("name"));
    if key.is_empty() {
        errs.push(FieldError::required(path.child("key"), ""));
    } else {
        errs.extend(v::wrap(v::is_config_map_key(key), key, &path.child("key")));
    }
    errs
}

fn validate_env_from(sources: &[EnvFromSource], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, ef) in sources.iter().enumerate() {
        let p = path.index(i);
        if let Some(prefix) = ef.prefix.as_deref().filter(|s| !s.is_empty()) {
            errs.extend(v::wrap(
                v::is_env_var_name(prefix),
                prefix,
                &p.child("prefix"),
            ));
        }
        let refs = [
            ("configMapRef", ef.config_map_ref.as_ref().map(|r| &r.name)),
            ("secretRef", ef.secret_ref.as_ref().map(|r| &r.name)),
        ];
        let mut count = 0;
        for (field, name) in refs {
            let Some(name) = name else { continue };
            count += 1;
            let np = p.child(field).child("name");
            if name.is_empty() {
                errs.push(FieldError::required(np, ""));
            } else {
                errs.extend(v::wrap(
                    v::is_dns1123_subdomain(&v::mask_trailing_dash(name)),
                    name,
                    &np,
                ));
            }
        }
        match count {
            0 => errs.push(FieldError::invalid(
                path.clone(),
                "",
                "must specify one of: `configMapRef` or `secretRef`",
            )),
            1 => {}
            _ => errs.push(FieldError::invalid(
                path.clone(),
                "",
                "may not have more than one field specified at a time",
            )),
        }
    }
    errs
}

fn validate_volume_mounts(c: &Container, volumes: &VolumeNames, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut mount_points = BTreeSet::new();
    let devices: Vec<(&str, &str)> = c
        .volume_devices
        .iter()
        .flatten()
        .map(|d| (d.name.as_str(), d.device_path.as_str()))
        .collect();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let p = path.index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(p.child("name"), ""));
        }
        if !volumes.contains(&m.name) {
            errs.push(FieldError::not_found(p.child("name"), m.name.as_str()));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(p.child("mountPath"), ""));
        }
        if !mount_points.insert(m.mount_path.as_str()) {
            errs.push(FieldError::invalid(
                p.child("mountPath"),
                m.mount_path.as_str(),
                "must be unique",
            ));
        }
        if devices.iter().any(|(n, _)| *n == m.name) {
            errs.push(FieldError::invalid(
                p.child("name"),
                m.name.as_str(),
                "must not already exist in volumeDevices",
            ));
        }
        if devices.iter().any(|(_, d)| *d == m.mount_path) {
            errs.push(FieldError::invalid(
                p.child("mountPath"),
                m.mount_path.as_str(),
                "must not already exist as a path in volumeDevices",
            ));
        }
        errs.extend(validate_sub_paths(m, &p, path));
        errs.extend(validate_mount_propagation(m, c, path));
    }
    errs
}

fn validate_sub_paths(m: &VolumeMount, p: &FieldPath, list_path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let sub_path = m.sub_path.as_deref().unwrap_or("");
    let sub_path_expr = m.sub_path_expr.as_deref().unwrap_or("");
    if !sub_path.is_empty() {
        errs.extend(super::volumes::local_descending_path(
            sub_path,
            &list_path.child("subPath"),
        ));
    }
    if !sub_path_expr.is_empty() {
        if !sub_path.is_empty() {
            errs.push(FieldError::invalid(
                p.child("subPathExpr"),
                sub_path_expr,
                "subPathExpr and subPath are mutually exclusive",
            ));
        }
        errs.extend(super::volumes::local_descending_path(
            sub_path_expr,
            &list_path.child("subPathExpr"),
        ));
    }
    errs
}

fn validate_mount_propagation(m: &VolumeMount, c: &Container, list_path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(mode) = m.mount_propagation.as_deref() else {
        return errs;
    };
    let path = list_path.child("mountPropagation");
    errs.extend(not_supported_unless(
        mode,
        &["Bidirectional", "HostToContainer", "None"],
        &path,
    ));
    let privileged = c
        .security_context
        .as_ref()
        .and_then(|s| s.privileged)
        .unwrap_or(false);
    if mode == "Bidirectional" && !privileged {
        errs.push(FieldError::forbidden(
            path,
            "Bidirectional mount propagation is available only to privileged containers",
        ));
    }
    errs
}

fn validate_resize_policy(c: &Container, restart_policy: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = BTreeSet::new();
    for (i, p) in c.resize_policy.iter().flatten().enumerate() {
        if !seen.insert(p.resource_name.as_str()) {
            errs.push(FieldError::duplicate(
                path.index(i),
                p.resource_name.as_str(),
            ));
        }
        errs.extend(required_enum(
            Some(&p.resource_name),
            &["cpu", "memory"],
            path,
        ));
        errs.extend(required_enum(
            Some(&p.restart_policy),
            &["NotRequired", "RestartContainer"],
            path,
        ));
        if restart_policy == "Never" && p.restart_policy != "NotRequired" {
            errs.push(FieldError::invalid(
                path.clone(),
                p.restart_policy.as_str(),
                "must be 'NotRequired' when `restartPolicy` is 'Never'",
            ));
        }
    }
    errs
}

/// Upstream's `ValidateSecurityContext` (the parts that apply to Linux pods).
fn validate_security_context(sc: Option<&SecurityContext>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(sc) = sc else { return errs };
    for (field, id) in [
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ] {
        if let Some(id) = id {
            errs.extend(
                v::is_valid_user_id(id)
                    .into_iter()
                    .map(|m| FieldError::invalid(path.child(field), id, m))
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
    }
    if let Some(pm) = sc.proc_mount.as_deref() {
        errs.extend(not_supported_unless(
            pm,
            &["Default", "Unmasked"],
            &path.child("procMount"),
        ));
    }
    if sc.allow_privilege_escalation == Some(false) && sc.privileged == Some(true) {
        errs.push(FieldError::invalid(
            path.clone(),
            rkube_machinery::Value::Raw("core.SecurityContext{...}".into()),
            "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
        ));
    }
    errs
}

fn validate_lifecycle_and_probes(c: &Container, ctx: &PodContext<'_>, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(l) = c.lifecycle.as_ref() {
        errs.extend(validate_lifecycle(
            l,
            ctx.grace_period,
            &p.child("lifecycle"),
        ));
    }
    if let Some(probe) = c.liveness_probe.as_ref() {
        errs.extend(validate_probe(probe, &p.child("livenessProbe"), true));
    }
    if let Some(probe) = c.readiness_probe.as_ref() {
        let pp = p.child("readinessProbe");
        errs.extend(validate_probe(probe, &pp, false));
        if let Some(t) = probe.termination_grace_period_seconds {
            errs.push(FieldError::invalid(
                pp.child("terminationGracePeriodSeconds"),
                t,
                "must not be set for readinessProbes",
            ));
        }
    }
    if let Some(probe) = c.startup_probe.as_ref() {
        errs.extend(validate_probe(probe, &p.child("startupProbe"), true));
    }
    errs
}

fn validate_lifecycle(l: &Lifecycle, grace: Option<i64>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (field, h) in [("postStart", &l.post_start), ("preStop", &l.pre_stop)] {
        if let Some(h) = h {
            errs.extend(validate_lifecycle_handler(h, grace, &path.child(field)));
        }
    }
    errs
}

fn validate_lifecycle_handler(
    h: &LifecycleHandler,
    grace: Option<i64>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let handlers = Handlers {
        exec: h
            .exec
            .as_ref()
            .map(|e| e.command.as_ref().is_some_and(|c| !c.is_empty())),
        http_get: h.http_get.as_ref(),
        tcp_port: h.tcp_socket.as_ref().map(|t| &t.port),
        grpc_port: None,
        sleep: h.sleep.as_ref().map(|s| s.seconds),
    };
    errs.extend(handlers.validate(grace, path));
    errs
}

/// The action kinds a probe or lifecycle hook may set (exactly one).
struct Handlers<'a> {
    exec: Option<bool>,
    http_get: Option<&'a HTTPGetAction>,
    tcp_port: Option<&'a IntOrString>,
    grpc_port: Option<i32>,
    sleep: Option<i64>,
}

impl Handlers<'_> {
    fn validate(&self, grace: Option<i64>, path: &FieldPath) -> ErrorList {
        let mut errs = ErrorList::new();
        let mut count = 0;
        let mut one = |field: &str, errs: &mut ErrorList| {
            count += 1;
            if count > 1 {
                errs.push(FieldError::forbidden(
                    path.child(field),
                    "may not specify more than 1 handler type",
                ));
                return false;
            }
            true
        };
        if let Some(has_command) = self.exec
            && one("exec", &mut errs)
            && !has_command
        {
            errs.push(FieldError::required(
                path.child("exec").child("command"),
                "",
            ));
        }
        if let Some(h) = self.http_get
            && one("httpGet", &mut errs)
        {
            errs.extend(validate_http_get(h, &path.child("httpGet")));
        }
        if let Some(port) = self.tcp_port
            && one("tcpSocket", &mut errs)
        {
            errs.extend(port_num_or_name(
                port,
                &path.child("tcpSocket").child("port"),
            ));
        }
        if let Some(port) = self.grpc_port
            && one("grpc", &mut errs)
        {
            errs.extend(port_num(port, &path.child("grpc").child("port")));
        }
        if let Some(seconds) = self.sleep
            && one("sleep", &mut errs)
            && let Some(g) = grace.filter(|g| seconds < 0 || seconds > *g)
        {
            errs.push(FieldError::invalid(
                path.child("sleep"),
                seconds,
                format!("must be non-negative and less than terminationGracePeriodSeconds ({g})"),
            ));
        }
        if count == 0 {
            errs.push(FieldError::required(
                path.clone(),
                "must specify a handler type",
            ));
        }
        errs
    }
}

fn validate_http_get(h: &HTTPGetAction, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if h.path.as_deref().unwrap_or("").is_empty() {
        errs.push(FieldError::required(path.child("path"), ""));
    }
    errs.extend(port_num_or_name(&h.port, &path.child("port")));
    let scheme = h.scheme.as_deref().unwrap_or("");
    if !["HTTP", "HTTPS"].contains(&scheme) {
        errs.push(FieldError::not_supported(
            path.child("scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    for header in h.http_headers.iter().flatten() {
        errs.extend(v::wrap(
            v::is_http_header_name(&header.name),
            &header.name,
            &path.child("httpHeaders"),
        ));
    }
    errs
}

fn validate_probe(probe: &Probe, path: &FieldPath, success_must_be_one: bool) -> ErrorList {
    let handlers = Handlers {
        exec: probe
            .exec
            .as_ref()
            .map(|e| e.command.as_ref().is_some_and(|c| !c.is_empty())),
        http_get: probe.http_get.as_ref(),
        tcp_port: probe.tcp_socket.as_ref().map(|t| &t.port),
        grpc_port: probe.grpc.as_ref().map(|g| g.port),
        sleep: None,
    };
    let mut errs = handlers.validate(None, path);
    let fields = [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ];
    for (field, value) in fields {
        errs.extend(v::validate_nonnegative(
            i64::from(value.unwrap_or(0)),
            &path.child(field),
        ));
    }
    if let Some(t) = probe.termination_grace_period_seconds.filter(|t| *t <= 0) {
        errs.push(FieldError::invalid(
            path.child("terminationGracePeriodSeconds"),
            t,
            "must be greater than 0",
        ));
    }
    if success_must_be_one && probe.success_threshold.unwrap_or(0) != 1 {
        errs.push(FieldError::invalid(
            path.child("successThreshold"),
            probe.success_threshold.unwrap_or(0),
            "must be 1",
        ));
    }
    errs
}

/// Host ports may not repeat (per protocol and host IP) across `containers`.
fn check_host_port_conflicts(containers: &[Container], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, port) in c.ports.iter().flatten().enumerate() {
            let hp = port.host_port.unwrap_or(0);
            if hp == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{hp}",
                port.protocol.as_deref().unwrap_or(""),
                port.host_ip.as_deref().unwrap_or("")
            );
            if !seen.insert(key.clone()) {
                errs.push(FieldError::duplicate(
                    path.index(ci).child("ports").index(pi).child("hostPort"),
                    key,
                ));
            }
        }
    }
    errs
}
