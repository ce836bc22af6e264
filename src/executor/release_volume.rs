//! A release carried in a volume: the commit's files ([`ReleaseFiles`]: the project and
//! the extra addons paths) unpacked once into a Docker volume named by their content, and
//! mounted read-only at [`RELEASE_ROOT`] into the base image, where a built image would
//! hold them. Nothing to build when the project has no Dockerfile and no requirements: a
//! one-file change costs one upload of the tree through the engine's API, not an image
//! layer commit, and works on a remote engine as on a local one.
//!
//! Immutable: the tree's last entry is a marker holding its content key. A volume with its
//! marker is never written again (another deploy, staging, a rollback reuse it as it is);
//! one without (an upload that died) is emptied and filled again. Every volume carries the
//! project's label, and only this project's volumes that no container uses are pruned.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bollard::Docker;

use crate::executor::docker::{removal, runtime};
use crate::executor::ExecError;

/// Where a release volume is mounted: its `project/` and `extra/<i>/` land where an image
/// odoo-ci builds keeps the project and the extra addons paths.
pub const RELEASE_ROOT: &str = "/mnt/odoo-ci";

/// The files of a release, as the engine unpacks them at [`RELEASE_ROOT`].
pub trait ReleaseFiles {
    /// What the files hold: a hash of their names, contents and modes.
    fn content(&self) -> &str;
    /// The tar of the files, ended by an entry `marker` that holds [`Self::content`].
    fn into_tar(self, marker: &str) -> std::io::Result<Vec<u8>>;
}

/// The label that names the release volume a container runs (on odoo-ci's containers).
pub const LABEL: &str = "odoo-ci.release-volume";
/// The label that says a volume is a release (on the volume).
const KIND_LABEL: &str = "odoo-ci.kind";
const KIND: &str = "release";
/// The tree's last entry: present only once the whole tree is in the volume.
const MARKER: &str = ".odoo-ci-release";

/// The volume of the project `scope`'s release with content `content`.
pub fn name(scope: &str, content: &str) -> String {
    format!(
        "odoo-ci-{scope}-release-{}",
        &content[..content.len().min(16)]
    )
}

/// The bind that mounts `volume` read-only where Odoo finds the release's files.
pub fn bind(volume: &str) -> String {
    format!("{volume}:{RELEASE_ROOT}:ro")
}

/// Whether the volume was there already or filled now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carried {
    pub volume: String,
    pub reused: bool,
    pub bytes: usize,
}

/// The container the engine reads and writes a volume through: created from `image` (on
/// the engine already: the base image), never started, removed after its work. It carries
/// `labels` (the stage's: project, stage) and `odoo-ci.helper=release`, so one that a
/// killed run left behind is found like the run's other containers.
pub struct Helper<'a> {
    pub image: &'a str,
    pub labels: &'a HashMap<String, String>,
}

/// Makes sure the project `scope` has the release volume of `files` and returns it,
/// unpacked through `helper`. `labels` go on a new volume beside the project and content
/// labels.
pub fn carry(
    docker: &Docker,
    scope: &str,
    helper: &Helper<'_>,
    files: impl ReleaseFiles,
    labels: &HashMap<String, String>,
) -> Result<Carried, ExecError> {
    let content = files.content().to_string();
    let volume = name(scope, &content);
    let mut all = labels.clone();
    all.insert(crate::names::PROJECT_LABEL.into(), scope.into());
    all.insert(KIND_LABEL.into(), KIND.into());
    all.insert(crate::names::CONTENT_LABEL.into(), content.clone());
    runtime()?.block_on(async {
        ensure_volume(docker, &volume, scope, &all).await?;
        with_helper(docker, helper, &volume, false, async |id| {
            if marker(docker, id).await?.as_deref() == Some(content.as_str()) {
                return Ok(Carried {
                    volume: volume.clone(),
                    reused: true,
                    bytes: 0,
                });
            }
            let tar = files
                .into_tar(MARKER)
                .map_err(|e| ExecError::Other(e.to_string()))?;
            let bytes = tar.len();
            let options = UploadToContainerOptionsBuilder::new()
                .path(RELEASE_ROOT)
                .build();
            docker
                .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
                .await?;
            Ok(Carried {
                volume: volume.clone(),
                reused: false,
                bytes,
            })
        })
        .await
    })
}

/// Refuses a release volume that is missing or incomplete: the engine would create an
/// empty one, and Odoo would start without the release's addons.
pub fn check(docker: &Docker, helper: &Helper<'_>, volume: &str) -> Result<(), ExecError> {
    runtime()?.block_on(async {
        if docker.inspect_volume(volume).await.is_err() {
            return Err(ExecError::Other(format!(
                "the release volume `{volume}` is not on the engine (pruned, or another engine): deploy that commit again to carry its files"
            )));
        }
        with_helper(docker, helper, volume, true, async |id| {
            match marker(docker, id).await? {
                Some(_) => Ok(()),
                None => Err(ExecError::Other(format!(
                    "the release volume `{volume}` is incomplete (its upload stopped short): deploy that commit again"
                ))),
            }
        })
        .await
    })
}

/// Creates `volume` with `labels`, or checks that the one there is this project's.
async fn ensure_volume(
    docker: &Docker,
    volume: &str,
    scope: &str,
    labels: &HashMap<String, String>,
) -> Result<(), ExecError> {
    if let Ok(found) = docker.inspect_volume(volume).await {
        return match found.labels.get(crate::names::PROJECT_LABEL) {
            Some(owner) if owner == scope => Ok(()),
            _ => Err(ExecError::Other(format!(
                "a volume named `{volume}` exists and is not this project's release: remove or rename it"
            ))),
        };
    }
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(volume.to_string()),
            labels: Some(labels.clone()),
            ..VolumeCreateRequest::default()
        })
        .await?;
    Ok(())
}

/// Creates `helper`'s container with `volume` mounted, lets `work` use it, and removes it
/// whatever happened.
async fn with_helper<T>(
    docker: &Docker,
    helper: &Helper<'_>,
    volume: &str,
    read_only: bool,
    work: impl AsyncFnOnce(&str) -> Result<T, ExecError>,
) -> Result<T, ExecError> {
    let bind = match read_only {
        true => bind(volume),
        false => format!("{volume}:{RELEASE_ROOT}"),
    };
    let mut labels = helper.labels.clone();
    labels.insert("odoo-ci.helper".into(), "release".into());
    let body = ContainerCreateBody {
        image: Some(helper.image.to_string()),
        entrypoint: Some(vec!["true".into()]),
        cmd: Some(Vec::new()),
        user: Some("0".into()),
        labels: Some(labels),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            binds: Some(vec![bind]),
            ..HostConfig::default()
        }),
        ..ContainerCreateBody::default()
    };
    let created = docker
        .create_container(Some(CreateContainerOptionsBuilder::new().build()), body)
        .await?;
    let result = work(&created.id).await;
    let _ = docker.remove_container(&created.id, Some(removal())).await;
    result
}

/// The content key the volume's marker holds, if it has one.
async fn marker(docker: &Docker, container: &str) -> Result<Option<String>, ExecError> {
    let path = format!("{RELEASE_ROOT}/{MARKER}");
    let text = super::archive::file_text(docker, container, &path).await?;
    Ok(text.map(|t| t.trim().to_string()))
}

/// Removes the project `scope`'s release volumes beyond the newest `keep`, never `current`
/// and never one a container uses (the engine refuses those). Returns how many went.
pub fn prune(docker: &Docker, scope: &str, keep: usize, current: &str) -> usize {
    let Ok(rt) = runtime() else { return 0 };
    rt.block_on(async {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}={scope}", crate::names::PROJECT_LABEL),
                format!("{KIND_LABEL}={KIND}"),
            ],
        )]);
        let options = ListVolumesOptionsBuilder::new().filters(&filters).build();
        let Ok(list) = docker.list_volumes(Some(options)).await else {
            return 0;
        };
        let mut volumes: Vec<_> = list
            .volumes
            .unwrap_or_default()
            .into_iter()
            .filter(|v| v.name != current)
            .filter(|v| {
                v.labels
                    .get(crate::names::PROJECT_LABEL)
                    .map(String::as_str)
                    == Some(scope)
            })
            .collect();
        // RFC 3339 times of one engine sort as they happened.
        volumes.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        let mut removed = 0;
        for v in volumes.iter().skip(keep.saturating_sub(1)) {
            let options = RemoveVolumeOptionsBuilder::new().force(false).build();
            match docker.remove_volume(&v.name, Some(options)).await {
                Ok(()) => removed += 1,
                Err(e) => tracing::info!("kept release volume {}: {e}", v.name),
            }
        }
        removed
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_scoped_and_follow_the_content() {
        let a = name("acme-odoo-1234abcd", &"ab".repeat(32));
        assert_eq!(a, "odoo-ci-acme-odoo-1234abcd-release-abababababababab");
        assert_ne!(a, name("acme-odoo-1234abcd", &"cd".repeat(32)));
        assert_eq!(bind(&a), format!("{a}:/mnt/odoo-ci:ro"));
    }
}
