//! A data dir the engine cannot see (the runner's, with a remote engine: GitLab's
//! `docker:dind`, `DOCKER_HOST=tcp://…`). A bind mount of a runner folder would give Odoo
//! whatever the engine's host has at that path — nothing it may write into. Odoo writes
//! into the image's own data dir instead (`/var/lib/odoo`: the official image's, a volume
//! it gives its user, removed with the container), and the folders odoo-ci needs travel
//! through the engine's archive API: carried in before Odoo starts, owned by the image's
//! user (its ids read from the image's `/etc/passwd`: the engine's own `copyUIDGID` looks
//! the name up on the engine's host, where it may not exist), carried out after it ends.

use std::path::{Component, Path};

use bollard::query_parameters::UploadToContainerOptionsBuilder;
use bollard::Docker;

use super::archive::file_text;
use super::ExecError;

/// The official image's data dir (`VOLUME ["/var/lib/odoo", …]`, owned by `odoo`).
pub const IMAGE_DATA_DIR: &str = "/var/lib/odoo";

/// Carries the folders `rels` (relative to `local`) into the data dir of the created,
/// not yet started, container `id`; a folder missing here is skipped.
pub async fn carry_in(
    docker: &Docker,
    id: &str,
    local: &Path,
    rels: &[String],
) -> Result<(), ExecError> {
    let present: Vec<&String> = rels.iter().filter(|r| local.join(r).is_dir()).collect();
    if present.is_empty() {
        return Ok(());
    }
    let owner = image_user(docker, id).await?;
    let tar = tar_of(local, &present, owner)
        .map_err(|e| ExecError::Other(format!("{}: {e}", local.display())))?;
    let options = UploadToContainerOptionsBuilder::new()
        .path(IMAGE_DATA_DIR)
        .build();
    docker
        .upload_to_container(id, Some(options), bollard::body_full(tar.into()))
        .await?;
    Ok(())
}

/// Carries the folders `rels` out of the data dir of the container `id` into `local`,
/// each replacing what was there; a folder Odoo did not make is skipped.
pub async fn carry_out(
    docker: &Docker,
    id: &str,
    local: &Path,
    rels: &[String],
) -> Result<(), ExecError> {
    for rel in rels {
        let from = Path::new(IMAGE_DATA_DIR).join(rel);
        super::archive::download_tree(docker, id, &from, &local.join(rel)).await?;
    }
    Ok(())
}

/// The uid and gid the container `id` runs as: its user, numeric or looked up in its own
/// `/etc/passwd` (and `/etc/group`); root when it names none.
async fn image_user(docker: &Docker, id: &str) -> Result<(u64, u64), ExecError> {
    let info = docker.inspect_container(id, None).await?;
    let user = info.config.and_then(|c| c.user).unwrap_or_default();
    let (name, group) = user.split_once(':').unwrap_or((user.as_str(), ""));
    if name.is_empty() {
        return Ok((0, 0));
    }
    let passwd = file_text(docker, id, "/etc/passwd")
        .await?
        .unwrap_or_default();
    let (uid, primary) = match name.parse::<u64>() {
        Ok(uid) => (
            uid,
            find_ids(&passwd, |f| f[2] == name).map_or(uid, |(_, g)| g),
        ),
        Err(_) => find_ids(&passwd, |f| f[0] == name).ok_or_else(|| {
            ExecError::Other(format!(
                "the image's user `{name}` is not in its /etc/passwd"
            ))
        })?,
    };
    let gid = match group {
        "" => primary,
        g => match g.parse::<u64>() {
            Ok(gid) => gid,
            Err(_) => {
                let groups = file_text(docker, id, "/etc/group")
                    .await?
                    .unwrap_or_default();
                find_ids(&groups, |f| f[0] == g).map_or(primary, |(gid, _)| gid)
            }
        },
    };
    Ok((uid, gid))
}

/// The 3rd and 4th fields of the first `name:x:id:id…` line `matches` picks.
fn find_ids(text: &str, matches: impl Fn(&[&str]) -> bool) -> Option<(u64, u64)> {
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3 && matches(f))
        .find_map(|f| {
            let first = f[2].parse().ok()?;
            let second = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(first);
            Some((first, second))
        })
}

/// A tar of the folders `rels` under `local`, each with its parent folders, everything
/// owned by `owner` (uid, gid).
fn tar_of(local: &Path, rels: &[&String], owner: (u64, u64)) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut parents = std::collections::BTreeSet::new();
    for rel in rels {
        let rel = Path::new(rel.as_str());
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(std::io::Error::other(format!(
                "`{}` is not a folder inside the data dir",
                rel.display()
            )));
        }
        for parent in rel.ancestors().skip(1) {
            if !parent.as_os_str().is_empty() && parents.insert(parent.to_path_buf()) {
                append(&mut builder, parent, &local.join(parent), owner)?;
            }
        }
        append_tree(&mut builder, rel, &local.join(rel), owner)?;
    }
    builder.into_inner()
}

/// Appends the folder `path` as `name`, and everything under it (folders and files).
fn append_tree(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &Path,
    path: &Path,
    owner: (u64, u64),
) -> std::io::Result<()> {
    append(builder, name, path, owner)?;
    let mut children: Vec<_> = std::fs::read_dir(path)?.collect::<Result<_, _>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let (name, path) = (name.join(child.file_name()), child.path());
        match child.file_type()?.is_dir() {
            true => append_tree(builder, &name, &path, owner)?,
            false => append(builder, &name, &path, owner)?,
        }
    }
    Ok(())
}

/// Appends the folder or file `path` as `name`, owned by `owner`.
fn append(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &Path,
    path: &Path,
    (uid, gid): (u64, u64),
) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata(&meta);
    header.set_uid(uid);
    header.set_gid(gid);
    match meta.is_dir() {
        true => builder.append_data(&mut header, name, std::io::empty()),
        false => builder.append_data(&mut header, name, std::fs::File::open(path)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_travels_with_its_parents_and_nothing_outside_the_data_dir() {
        let local = tempfile::tempdir().expect("dir");
        let files = local.path().join("filestore/db/ab");
        std::fs::create_dir_all(&files).expect("mkdir");
        std::fs::write(files.join("abcd"), "x").expect("write");
        let tar = tar_of(local.path(), &[&"filestore/db".to_string()], (101, 101)).expect("tar");
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut paths: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                let path = e
                    .expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string();
                path.trim_end_matches('/').to_string()
            })
            .collect();
        paths.sort();
        assert_eq!(
            paths,
            vec![
                "filestore",
                "filestore/db",
                "filestore/db/ab",
                "filestore/db/ab/abcd"
            ]
        );
        assert!(tar_of(local.path(), &[&"../etc".to_string()], (0, 0)).is_err());
    }

    #[test]
    fn a_user_is_found_by_name_or_by_id() {
        let passwd = "root:x:0:0::/root:/bin/sh\nodoo:x:101:102:Odoo:/var/lib/odoo:/bin/false\n";
        assert_eq!(find_ids(passwd, |f| f[0] == "odoo"), Some((101, 102)));
        assert_eq!(find_ids(passwd, |f| f[2] == "101"), Some((101, 102)));
        assert_eq!(find_ids(passwd, |f| f[0] == "nobody"), None);
    }
}
