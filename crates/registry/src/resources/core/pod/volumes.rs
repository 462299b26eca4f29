//! Validation of a pod's volumes (upstream's `ValidateVolumes` and `validateVolumeSource`):
//! unique DNS-label names, exactly one source each, and the common sources' required fields.

use super::VolumeNames;
use super::defaults::volume_source_names;
use k8s_openapi::api::core::v1::{KeyToPath, ProjectedVolumeSource, Volume};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};
use std::collections::BTreeSet;

const FILE_MODE_MSG: &str = "must be a number between 0 and 0777 (octal), both inclusive";

/// Fields a downward API volume file may reference.
const VOLUME_FIELD_PATHS: [&str; 5] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.labels",
    "metadata.annotations",
    "metadata.uid",
];

/// Validate the volumes, returning the names of the valid ones (mounts may refer only to them).
pub fn validate_volumes(volumes: &[Volume], path: &FieldPath) -> (VolumeNames, ErrorList) {
    let mut names = VolumeNames::new();
    let mut errs = ErrorList::new();
    for (i, vol) in volumes.iter().enumerate() {
        let p = path.index(i);
        let mut el = validate_source(vol, &p);
        if vol.name.is_empty() {
            el.push(FieldError::required(p.child("name"), ""));
        } else {
            el.extend(v::validate_dns1123_label(&vol.name, &p.child("name")));
        }
        if names.contains(&vol.name) {
            el.push(FieldError::duplicate(p.child("name"), vol.name.as_str()));
        }
        if el.is_empty() {
            names.insert(vol.name.clone());
        } else {
            errs.extend(el);
        }
    }
    (names, errs)
}

fn validate_source(vol: &Volume, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let sources = volume_source_names(vol);
    if sources.is_empty() {
        errs.push(FieldError::required(
            p.clone(),
            "must specify a volume type",
        ));
        return errs;
    }
    for extra in &sources[1..] {
        errs.push(FieldError::forbidden(
            p.child(extra),
            "may not specify more than 1 volume type",
        ));
    }
    match sources[0] {
        "hostPath" => errs.extend(validate_host_path(vol, p)),
        "secret" => errs.extend(validate_secret(vol, p)),
        "configMap" => errs.extend(validate_config_map(vol, p)),
        "persistentVolumeClaim" => errs.extend(required_str(
            vol.persistent_volume_claim
                .as_ref()
                .map(|c| c.claim_name.as_str()),
            &p.child("persistentVolumeClaim").child("claimName"),
        )),
        "nfs" => errs.extend(validate_nfs(vol, p)),
        "downwarAPI" => errs.extend(validate_downward_api(vol, p)),
        "projected" => errs.extend(validate_projected(
            vol.projected.as_ref(),
            &p.child("projected"),
        )),
        "emptyDir" => errs.extend(validate_empty_dir(vol, p)),
        _ => {}
    }
    errs
}

fn required_str(value: Option<&str>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if value.unwrap_or("").is_empty() {
        errs.push(FieldError::required(path.clone(), ""));
    }
    errs
}

fn validate_empty_dir(vol: &Volume, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let limit = vol.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
    if let Some(q) = limit.and_then(|q| rkube_machinery::quantity::Quantity::parse(&q.0).ok())
        && q.is_negative()
    {
        errs.push(FieldError::forbidden(
            p.child("emptyDir").child("sizeLimit"),
            "SizeLimit field must be a valid resource quantity",
        ));
    }
    errs
}

fn validate_host_path(vol: &Volume, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(hp) = vol.host_path.as_ref() else {
        return errs;
    };
    let path = p.child("hostPath");
    if hp.path.is_empty() {
        errs.push(FieldError::required(path.child("path"), ""));
        return errs;
    }
    errs.extend(no_backsteps(&hp.path, &path.child("path")));
    const TYPES: [&str; 8] = [
        "",
        "BlockDevice",
        "CharDevice",
        "Directory",
        "DirectoryOrCreate",
        "File",
        "FileOrCreate",
        "Socket",
    ];
    if let Some(t) = hp.type_.as_deref()
        && !TYPES.contains(&t)
    {
        errs.push(FieldError::not_supported(path.child("type"), t, &TYPES));
    }
    errs
}

fn validate_secret(vol: &Volume, p: &FieldPath) -> ErrorList {
    let Some(s) = vol.secret.as_ref() else {
        return ErrorList::new();
    };
    let path = p.child("secret");
    let mut errs = required_str(s.secret_name.as_deref(), &path.child("secretName"));
    errs.extend(file_mode(s.default_mode, &path.child("defaultMode")));
    errs.extend(key_to_paths(
        s.items.as_deref().unwrap_or(&[]),
        &path.child("items"),
    ));
    errs
}

fn validate_config_map(vol: &Volume, p: &FieldPath) -> ErrorList {
    let Some(c) = vol.config_map.as_ref() else {
        return ErrorList::new();
    };
    let path = p.child("configMap");
    let mut errs = required_str(Some(&c.name), &path.child("name"));
    errs.extend(file_mode(c.default_mode, &path.child("defaultMode")));
    errs.extend(key_to_paths(
        c.items.as_deref().unwrap_or(&[]),
        &path.child("items"),
    ));
    errs
}

fn validate_nfs(vol: &Volume, p: &FieldPath) -> ErrorList {
    let Some(n) = vol.nfs.as_ref() else {
        return ErrorList::new();
    };
    let path = p.child("nfs");
    let mut errs = required_str(Some(&n.server), &path.child("server"));
    errs.extend(required_str(Some(&n.path), &path.child("path")));
    if !n.path.starts_with('/') {
        errs.push(FieldError::invalid(
            path.child("path"),
            n.path.as_str(),
            "must be an absolute path",
        ));
    }
    errs
}

fn validate_downward_api(vol: &Volume, p: &FieldPath) -> ErrorList {
    let Some(d) = vol.downward_api.as_ref() else {
        return ErrorList::new();
    };
    let path = p.child("downwardAPI");
    let mut errs = file_mode(d.default_mode, &path.child("defaultMode"));
    for item in d.items.iter().flatten() {
        if item.path.is_empty() {
            errs.push(FieldError::required(path.child("path"), ""));
        }
        errs.extend(local_non_reserved_path(&item.path, &path.child("path")));
        match (&item.field_ref, &item.resource_field_ref) {
            (Some(f), other) => {
                errs.extend(super::containers::validate_field_ref(
                    f.api_version.as_deref(),
                    &f.field_path,
                    &VOLUME_FIELD_PATHS,
                    &path.child("fieldRef"),
                ));
                if other.is_some() {
                    errs.push(FieldError::invalid(
                        path.clone(),
                        "resource",
                        "fieldRef and resourceFieldRef can not be specified simultaneously",
                    ));
                }
            }
            (None, Some(_)) => {}
            (None, None) => errs.push(FieldError::required(
                path.clone(),
                "one of fieldRef and resourceFieldRef is required",
            )),
        }
        errs.extend(file_mode(item.mode, &path.child("mode")));
    }
    errs
}

fn validate_projected(proj: Option<&ProjectedVolumeSource>, path: &FieldPath) -> ErrorList {
    let Some(proj) = proj else {
        return ErrorList::new();
    };
    let mut errs = file_mode(proj.default_mode, &path.child("defaultMode"));
    let mut paths = BTreeSet::new();
    for (i, src) in proj.sources.iter().flatten().enumerate() {
        let sp = path.child("sources").index(i);
        let mut count = 0;
        if let Some(s) = src.secret.as_ref() {
            count += 1;
            errs.extend(projected_items(
                &s.name,
                s.items.as_deref(),
                &sp.child("secret"),
                path,
                &mut paths,
            ));
        }
        if let Some(c) = src.config_map.as_ref() {
            count += 1;
            errs.extend(projected_items(
                &c.name,
                c.items.as_deref(),
                &sp.child("configMap"),
                path,
                &mut paths,
            ));
        }
        if src.downward_api.is_some() {
            count += 1;
        }
        if let Some(t) = src.service_account_token.as_ref() {
            count += 1;
            errs.extend(validate_token_projection(
                t.expiration_seconds.unwrap_or(3600),
                &t.path,
                &sp,
                path,
            ));
        }
        if src.cluster_trust_bundle.is_some() {
            count += 1;
        }
        if count > 1 {
            errs.push(FieldError::forbidden(
                sp,
                "may not specify more than 1 volume type per source",
            ));
        }
    }
    errs
}

fn projected_items(
    name: &str,
    items: Option<&[KeyToPath]>,
    src_path: &FieldPath,
    proj_path: &FieldPath,
    paths: &mut BTreeSet<String>,
) -> ErrorList {
    let mut errs = required_str(Some(name), &src_path.child("name"));
    for (i, kp) in items.unwrap_or(&[]).iter().enumerate() {
        errs.extend(key_to_path(kp, &src_path.child("items").index(i)));
        if !kp.path.is_empty() && !paths.insert(kp.path.clone()) {
            errs.push(FieldError::invalid(
                proj_path.clone(),
                name,
                "conflicting duplicate paths",
            ));
        }
    }
    errs
}

fn validate_token_projection(
    expiration: i64,
    token_path: &str,
    sp: &FieldPath,
    proj_path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let exp_path = sp.child("serviceAccountToken").child("expirationSeconds");
    if expiration < 600 {
        errs.push(FieldError::invalid(
            exp_path.clone(),
            expiration,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration > 1 << 32 {
        errs.push(FieldError::invalid(
            exp_path,
            expiration,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    if token_path.is_empty() {
        errs.push(FieldError::required(proj_path.child("path"), ""));
    } else {
        errs.extend(local_non_reserved_path(
            token_path,
            &proj_path.child("path"),
        ));
    }
    errs
}

fn key_to_paths(items: &[KeyToPath], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, kp) in items.iter().enumerate() {
        errs.extend(key_to_path(kp, &path.index(i)));
    }
    errs
}

fn key_to_path(kp: &KeyToPath, path: &FieldPath) -> ErrorList {
    let mut errs = required_str(Some(&kp.key), &path.child("key"));
    errs.extend(required_str(Some(&kp.path), &path.child("path")));
    errs.extend(local_non_reserved_path(&kp.path, &path.child("path")));
    errs.extend(file_mode(kp.mode, &path.child("mode")));
    errs
}

fn file_mode(mode: Option<i32>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(m) = mode.filter(|m| !(0..=0o777).contains(m)) {
        errs.push(FieldError::invalid(path.clone(), m, FILE_MODE_MSG));
    }
    errs
}

/// A path with no `..` element.
pub fn no_backsteps(target: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if target.split('/').any(|part| part == "..") {
        errs.push(FieldError::invalid(
            path.clone(),
            target,
            "must not contain '..'",
        ));
    }
    errs
}

/// A relative path with no `..` element (upstream's `validateLocalDescendingPath`).
pub fn local_descending_path(target: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if target.starts_with('/') {
        errs.push(FieldError::invalid(
            path.clone(),
            target,
            "must be a relative path",
        ));
    }
    errs.extend(no_backsteps(target, path));
    errs
}

/// A relative path that does not start with `..` (upstream's `ValidateLocalNonReservedPath`).
pub fn local_non_reserved_path(target: &str, path: &FieldPath) -> ErrorList {
    let mut errs = local_descending_path(target, path);
    if target.starts_with("..") && !target.starts_with("../") {
        errs.push(FieldError::invalid(
            path.clone(),
            target,
            "must not start with '..'",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sources() {
        let vols = vec![
            Volume {
                name: "data".into(),
                empty_dir: Some(Default::default()),
                ..Default::default()
            },
            Volume {
                name: "data".into(),
                empty_dir: Some(Default::default()),
                ..Default::default()
            },
            Volume {
                name: "none".into(),
                ..Default::default()
            },
        ];
        let (names, errs) = validate_volumes(&vols, &FieldPath::new("spec").child("volumes"));
        assert!(names.contains("data") && !names.contains("none"));
        assert_eq!(
            errs.aggregate_message(),
            "[spec.volumes[1].name: Duplicate value: \"data\", spec.volumes[2]: Required value: must specify a volume type]"
        );
    }
}
