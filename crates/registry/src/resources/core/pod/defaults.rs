//! Upstream's defaulting of pod specs (`pkg/apis/core/v1/defaults.go`): what a stored pod or
//! pod template has filled in when the user left it out.

use k8s_openapi::api::core::v1::{
    Container, EnvVar, EphemeralContainer, HTTPGetAction, Pod, PodSpec, Probe,
    ResourceRequirements, Volume,
};

/// File mode (0644) of projected files when none is given.
const DEFAULT_MODE: i32 = 0o644;

/// Set `slot` to `value` when it is unset.
fn or_set<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

/// Set a string `slot` to `value` when it is unset or empty (Go's zero value).
fn or_set_str(slot: &mut Option<String>, value: &str) {
    if slot.as_deref().unwrap_or("").is_empty() {
        *slot = Some(value.to_string());
    }
}

/// Defaults shared by pods and pod templates.
pub fn default_spec(spec: &mut PodSpec) {
    or_set_str(&mut spec.dns_policy, "ClusterFirst");
    or_set_str(&mut spec.restart_policy, "Always");
    or_set(&mut spec.security_context, Default::default());
    or_set(&mut spec.termination_grace_period_seconds, 30);
    or_set_str(&mut spec.scheduler_name, "default-scheduler");
    sync_service_account(spec);
    if spec.host_network == Some(true) {
        default_host_network_ports(&mut spec.containers);
        default_host_network_ports(spec.init_containers.get_or_insert_default());
    }
    spec.containers.iter_mut().for_each(default_container);
    if let Some(init) = spec.init_containers.as_mut() {
        init.iter_mut().for_each(default_container);
    }
    if let Some(ephemeral) = spec.ephemeral_containers.as_mut() {
        ephemeral.iter_mut().for_each(default_ephemeral_container);
    }
    if let Some(volumes) = spec.volumes.as_mut() {
        volumes.iter_mut().for_each(default_volume);
    }
    drop_empty(&mut spec.init_containers);
}

/// Defaults only a Pod gets, not a template: `enableServiceLinks` and requests copied from
/// limits (upstream's `SetDefaults_Pod`).
pub fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_default();
    default_spec(spec);
    or_set(&mut spec.enable_service_links, true);
    spec.containers.iter_mut().for_each(requests_from_limits);
    if let Some(init) = spec.init_containers.as_mut() {
        init.iter_mut().for_each(requests_from_limits);
    }
}

fn drop_empty<T>(v: &mut Option<Vec<T>>) {
    if v.as_ref().is_some_and(Vec::is_empty) {
        *v = None;
    }
}

/// The v1 API has both `serviceAccountName` and the deprecated `serviceAccount`; upstream's
/// conversion takes the old one when the new one is empty and always writes both.
fn sync_service_account(spec: &mut PodSpec) {
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
        && let Some(old) = spec.service_account.as_ref().filter(|s| !s.is_empty())
    {
        spec.service_account_name = Some(old.clone());
    }
    if let Some(name) = spec.service_account_name.as_ref().filter(|s| !s.is_empty()) {
        spec.service_account = Some(name.clone());
    }
}

fn default_host_network_ports(containers: &mut [Container]) {
    for c in containers {
        for p in c.ports.iter_mut().flatten() {
            if p.host_port.unwrap_or(0) == 0 {
                p.host_port = Some(p.container_port);
            }
        }
    }
}

/// `Always` for images tagged `latest` or not tagged (and not pinned by digest), else
/// `IfNotPresent`.
pub fn default_pull_policy(image: &str) -> &'static str {
    if image_tag(image).is_none_or(|t| t == "latest") && !image.contains('@') {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The tag of an image reference: the part after the last `:` of the last path component.
fn image_tag(image: &str) -> Option<&str> {
    let name = image.split('@').next().unwrap_or(image);
    let last = name.rsplit('/').next().unwrap_or(name);
    last.split_once(':').map(|(_, tag)| tag)
}

/// Upstream's `SetDefaults_Container` and the defaults of everything inside a container.
pub fn default_container(c: &mut Container) {
    or_set_str(
        &mut c.image_pull_policy,
        default_pull_policy(c.image.as_deref().unwrap_or("")),
    );
    or_set_str(&mut c.termination_message_path, "/dev/termination-log");
    or_set_str(&mut c.termination_message_policy, "File");
    or_set(&mut c.resources, ResourceRequirements::default());
    for p in c.ports.iter_mut().flatten() {
        or_set_str(&mut p.protocol, "TCP");
    }
    c.env.iter_mut().flatten().for_each(default_env);
    for probe in [
        &mut c.liveness_probe,
        &mut c.readiness_probe,
        &mut c.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = c.lifecycle.as_mut() {
        for h in [&mut lifecycle.post_start, &mut lifecycle.pre_stop]
            .into_iter()
            .flatten()
        {
            h.http_get.iter_mut().for_each(default_http_get);
        }
    }
}

/// Ephemeral containers have a container's shape and take the same defaults.
fn default_ephemeral_container(e: &mut EphemeralContainer) {
    let target = e.target_container_name.take();
    if let Ok(mut c) =
        serde_json::from_value::<Container>(serde_json::to_value(&*e).unwrap_or_default())
    {
        default_container(&mut c);
        if let Ok(back) = serde_json::from_value::<EphemeralContainer>(
            serde_json::to_value(c).unwrap_or_default(),
        ) {
            *e = back;
        }
    }
    e.target_container_name = target;
}

fn default_env(env: &mut EnvVar) {
    if let Some(field_ref) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
        or_set_str(&mut field_ref.api_version, "v1");
    }
}

fn default_probe(p: &mut Probe) {
    or_set(&mut p.timeout_seconds, 1);
    or_set(&mut p.period_seconds, 10);
    or_set(&mut p.success_threshold, 1);
    or_set(&mut p.failure_threshold, 3);
    p.http_get.iter_mut().for_each(default_http_get);
}

fn default_http_get(h: &mut HTTPGetAction) {
    or_set_str(&mut h.path, "/");
    or_set_str(&mut h.scheme, "HTTP");
}

fn requests_from_limits(c: &mut Container) {
    let Some(resources) = c.resources.as_mut() else {
        return;
    };
    let Some(limits) = resources.limits.as_ref() else {
        return;
    };
    let requests = resources.requests.get_or_insert_default();
    for (k, v) in limits {
        requests.entry(k.clone()).or_insert_with(|| v.clone());
    }
}

/// Upstream's `SetDefaults_Volume` and the defaults of each volume source.
fn default_volume(v: &mut Volume) {
    if volume_source_count(v) == 0 {
        v.empty_dir = Some(Default::default());
    }
    if let Some(s) = v.config_map.as_mut() {
        or_set(&mut s.default_mode, DEFAULT_MODE);
    }
    if let Some(s) = v.secret.as_mut() {
        or_set(&mut s.default_mode, DEFAULT_MODE);
    }
    if let Some(s) = v.downward_api.as_mut() {
        or_set(&mut s.default_mode, DEFAULT_MODE);
        for item in s.items.iter_mut().flatten() {
            if let Some(f) = item.field_ref.as_mut() {
                or_set_str(&mut f.api_version, "v1");
            }
        }
    }
    if let Some(s) = v.projected.as_mut() {
        or_set(&mut s.default_mode, DEFAULT_MODE);
        for src in s.sources.iter_mut().flatten() {
            if let Some(t) = src.service_account_token.as_mut() {
                or_set(&mut t.expiration_seconds, 3600);
            }
            for item in src
                .downward_api
                .iter_mut()
                .flat_map(|d| d.items.iter_mut().flatten())
            {
                if let Some(f) = item.field_ref.as_mut() {
                    or_set_str(&mut f.api_version, "v1");
                }
            }
        }
    }
    if let Some(h) = v.host_path.as_mut() {
        or_set(&mut h.type_, String::new());
    }
    if let Some(i) = v.iscsi.as_mut() {
        or_set_str(&mut i.iscsi_interface, "default");
    }
    if let Some(r) = v.rbd.as_mut() {
        or_set_str(&mut r.pool, "rbd");
        or_set_str(&mut r.user, "admin");
        or_set_str(&mut r.keyring, "/etc/ceph/keyring");
    }
    if let Some(a) = v.azure_disk.as_mut() {
        or_set_str(&mut a.caching_mode, "ReadWrite");
        or_set_str(&mut a.kind, "Shared");
        or_set_str(&mut a.fs_type, "ext4");
        or_set(&mut a.read_only, false);
    }
}

/// How many volume sources a volume sets (exactly one is valid).
pub fn volume_source_count(v: &Volume) -> usize {
    volume_source_names(v).len()
}

/// The JSON names of the sources a volume sets, in upstream's checking order.
pub fn volume_source_names(v: &Volume) -> Vec<&'static str> {
    let set = [
        ("emptyDir", v.empty_dir.is_some()),
        ("hostPath", v.host_path.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephFS", v.cephfs.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("downwarAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("configMap", v.config_map.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("storageos", v.storageos.is_some()),
        ("projected", v.projected.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ];
    set.into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        for (image, want) in [
            ("busybox", "Always"),
            ("busybox:latest", "Always"),
            ("busybox:1.36", "IfNotPresent"),
            ("localhost:5000/busybox", "Always"),
            ("localhost:5000/busybox:1", "IfNotPresent"),
            ("busybox@sha256:abc", "IfNotPresent"),
        ] {
            assert_eq!(default_pull_policy(image), want, "{image}");
        }
    }
}
