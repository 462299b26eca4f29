//! Validation of a whole pod spec (upstream's `ValidatePodSpec`): containers and volumes (in
//! their own modules), then the pod-wide fields.

use super::containers::{PodContext, validate_containers, validate_init_containers};
use super::volumes::validate_volumes;
use super::{not_supported_unless, tolerations::validate_tolerations};
use k8s_openapi::api::core::v1::{PodDNSConfig, PodSecurityContext, PodSpec};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};
use std::collections::BTreeSet;

/// Validate a pod spec at `path`. `is_pod` adds the rules only real pods follow (a pod
/// template's host ports may stay 0 under `hostNetwork`).
pub fn validate(spec: &PodSpec, path: &FieldPath, is_pod: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(FieldError::required(
            path.child("terminationGracePeriodSeconds"),
            "",
        ));
    }
    let (volumes, vol_errs) = validate_volumes(
        spec.volumes.as_deref().unwrap_or(&[]),
        &path.child("volumes"),
    );
    errs.extend(vol_errs);
    let restart_policy = spec.restart_policy.as_deref().unwrap_or("");
    let ctx = PodContext {
        volumes: &volumes,
        grace_period: spec.termination_grace_period_seconds,
        restart_policy,
    };
    errs.extend(validate_containers(
        &spec.containers,
        &ctx,
        &path.child("containers"),
    ));
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    errs.extend(validate_init_containers(
        init,
        &spec.containers,
        &ctx,
        &path.child("initContainers"),
    ));
    errs.extend(validate_host_network_ports(spec, path, is_pod));
    errs.extend(super::containers::required_enum(
        Some(restart_policy),
        &["Always", "OnFailure", "Never"],
        &path.child("restartPolicy"),
    ));
    errs.extend(super::containers::required_enum(
        spec.dns_policy.as_deref(),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        &path.child("dnsPolicy"),
    ));
    if let Some(sel) = &spec.node_selector {
        errs.extend(v::validate_labels(sel, &path.child("nodeSelector")));
    }
    errs.extend(validate_pod_security_context(
        spec.security_context.as_ref(),
        &path.child("securityContext"),
    ));
    errs.extend(validate_dns_config(
        spec.dns_config.as_ref(),
        spec.dns_policy.as_deref(),
        &path.child("dnsConfig"),
    ));
    errs.extend(validate_gates(spec, path));
    errs.extend(validate_names(spec, path));
    errs.extend(validate_misc(spec, path));
    errs
}

fn validate_host_network_ports(spec: &PodSpec, path: &FieldPath, is_pod: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.host_network != Some(true) {
        return errs;
    }
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, port) in c.ports.iter().flatten().enumerate() {
            let hp = port.host_port.unwrap_or(0);
            if (is_pod || hp != 0) && hp != port.container_port {
                errs.push(FieldError::invalid(
                    path.child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort"),
                    hp,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errs
}

fn validate_pod_security_context(sc: Option<&PodSecurityContext>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(sc) = sc else { return errs };
    let ids = [
        ("fsGroup", sc.fs_group),
        ("runAsUser", sc.run_as_user),
        ("runAsGroup", sc.run_as_group),
    ];
    for (field, id) in ids {
        if let Some(id) = id {
            let msgs = v::is_valid_user_id(id);
            errs.extend(
                msgs.into_iter()
                    .map(|m| FieldError::invalid(path.child(field), id, m))
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
    }
    for (i, g) in sc.supplemental_groups.iter().flatten().enumerate() {
        let msgs = v::is_valid_user_id(*g);
        errs.extend(
            msgs.into_iter()
                .map(|m| FieldError::invalid(path.child("supplementalGroups").index(i), *g, m))
                .collect::<Vec<_>>()
                .into(),
        );
    }
    if let Some(p) = sc.fs_group_change_policy.as_deref() {
        errs.extend(not_supported_unless(
            p,
            &["Always", "OnRootMismatch"],
            &path.child("fsGroupChangePolicy"),
        ));
    }
    errs
}

fn validate_dns_config(
    cfg: Option<&PodDNSConfig>,
    policy: Option<&str>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if policy == Some("None") {
        match cfg {
            None => {
                errs.push(FieldError::required(
                    path.clone(),
                    "must provide `dnsConfig` when `dnsPolicy` is None",
                ));
                return errs;
            }
            Some(c) if c.nameservers.as_ref().is_none_or(Vec::is_empty) => {
                errs.push(FieldError::required(
                    path.child("nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ));
                return errs;
            }
            _ => {}
        }
    }
    let Some(cfg) = cfg else { return errs };
    let nameservers = cfg.nameservers.as_deref().unwrap_or(&[]);
    if nameservers.len() > 3 {
        errs.push(FieldError::invalid(
            path.child("nameservers"),
            crate::meta::go_string_slice(nameservers),
            "must not have more than 3 nameservers",
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        errs.extend(v::validate_ip(ns, &path.child("nameservers").index(i)));
    }
    let searches = cfg.searches.as_deref().unwrap_or(&[]);
    if searches.len() > 32 {
        errs.push(FieldError::invalid(
            path.child("searches"),
            crate::meta::go_string_slice(searches),
            "must not have more than 32 search paths",
        ));
    }
    for (i, s) in searches.iter().enumerate() {
        if s != "." {
            let trimmed = s.strip_suffix('.').unwrap_or(s);
            errs.extend(v::validate_dns1123_subdomain(
                trimmed,
                &path.child("searches").index(i),
            ));
        }
    }
    for (i, o) in cfg.options.iter().flatten().enumerate() {
        if o.name.as_deref().unwrap_or("").is_empty() {
            errs.push(FieldError::required(
                path.child("options").index(i),
                "must not be empty",
            ));
        }
    }
    errs
}

fn validate_gates(spec: &PodSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, g) in spec.readiness_gates.iter().flatten().enumerate() {
        errs.extend(v::validate_qualified_name(
            &g.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, g) in spec.scheduling_gates.iter().flatten().enumerate() {
        let p = path.child("schedulingGates").index(i);
        errs.extend(v::validate_qualified_name(&g.name, &p));
        if !seen.insert(g.name.as_str()) {
            errs.push(FieldError::duplicate(p, g.name.as_str()));
        }
    }
    errs
}

fn validate_names(spec: &PodSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let subdomains = [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
    ];
    for (field, value) in subdomains {
        if let Some(value) = value.as_deref().filter(|s| !s.is_empty()) {
            errs.extend(v::validate_dns1123_subdomain(value, &path.child(field)));
        }
    }
    if let Some(rc) = spec.runtime_class_name.as_deref() {
        errs.extend(v::validate_dns1123_subdomain(
            rc,
            &path.child("runtimeClassName"),
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(value) = value.as_deref().filter(|s| !s.is_empty()) {
            errs.extend(v::validate_dns1123_label(value, &path.child(field)));
        }
    }
    errs
}

fn validate_misc(spec: &PodSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(ads) = spec
        .active_deadline_seconds
        .filter(|d| *d < 1 || *d > i64::from(i32::MAX))
    {
        errs.push(FieldError::invalid(
            path.child("activeDeadlineSeconds"),
            ads,
            v::inclusive_range_error(1, i64::from(i32::MAX)),
        ));
    }
    if let Some(t) = spec.tolerations.as_deref().filter(|t| !t.is_empty()) {
        errs.extend(validate_tolerations(t, &path.child("tolerations")));
    }
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        let p = path.child("hostAliases").index(i);
        errs.extend(v::validate_ip(&alias.ip, &p.child("ip")));
        for (j, h) in alias.hostnames.iter().flatten().enumerate() {
            errs.extend(v::validate_dns1123_subdomain(
                h,
                &p.child("hostnames").index(j),
            ));
        }
    }
    if let Some(pp) = spec.preemption_policy.as_deref() {
        errs.extend(super::containers::required_enum(
            Some(pp),
            &["PreemptLowerPriority", "Never"],
            &path.child("preemptionPolicy"),
        ));
    }
    if let Some(os) = spec.os.as_ref() {
        if os.name.is_empty() {
            errs.push(FieldError::required(
                path.child("os").child("name"),
                "cannot be empty",
            ));
        } else {
            errs.extend(not_supported_unless(
                &os.name,
                &["linux", "windows"],
                &path.child("os"),
            ));
        }
    }
    errs
}
