//! The service odoo-ci asks Swarm for: the executor's Odoo process in a task, its data
//! dir a volume, its health checked inside the task, one replica restarted by Swarm and
//! replaced start-first with a rollback.

use std::collections::HashMap;

use bollard::models::{
    HealthConfig, Mount, MountType, MountVolumeOptions, MountVolumeOptionsDriverConfig,
    NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecRollbackConfig, ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecPlacement, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};

use crate::config::SwarmSection;
use crate::executor::docker::DockerExecutor;
use crate::executor::Invocation;

const NANOS: i64 = 1_000_000_000;

/// What a service is made of: the executor's process, where the swarm places it.
pub struct Spec<'a> {
    pub executor: &'a DockerExecutor,
    pub settings: &'a SwarmSection,
}

/// Run by the task's health check: exits 0 when `GET argv[1]` answers 200.
const HEALTHY: &str = "import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=5).status == 200 else 1)
";

impl Spec<'_> {
    /// The task's container: the executor's Odoo process, its data dir the volume.
    fn container_spec(
        &self,
        inv: &Invocation,
        volume: &str,
        labels: &HashMap<String, String>,
        health: HealthConfig,
    ) -> TaskSpecContainerSpec {
        let mut env: Vec<String> = inv.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if self.executor.user.is_some() {
            env.push("LOGNAME=odoo".into());
        }
        TaskSpecContainerSpec {
            image: Some(self.executor.image.clone()),
            command: Some(vec![self.executor.command.clone()]),
            args: Some(inv.args.clone()),
            env: Some(env),
            user: self.executor.user.clone(),
            mounts: Some(
                std::iter::once(Mount {
                    target: Some(crate::executor::mirror::IMAGE_DATA_DIR.to_string()),
                    source: Some(volume.to_string()),
                    typ: Some(MountType::VOLUME),
                    volume_options: Some(MountVolumeOptions {
                        driver_config: self.driver_config(),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .chain(self.executor.extra_binds.iter().filter_map(|b| mount_of(b)))
                .collect(),
            ),
            health_check: Some(health),
            // Its tasks' containers are the project's too: what drops a database finds
            // the stopped ones Swarm keeps, which hold its volume.
            labels: Some(labels.clone()),
            ..Default::default()
        }
    }

    pub(super) fn driver_config(&self) -> Option<MountVolumeOptionsDriverConfig> {
        let s = self.settings;
        (s.volume_driver.is_some() || !s.volume_options.is_empty()).then(|| {
            MountVolumeOptionsDriverConfig {
                name: s.volume_driver.clone(),
                options: Some(s.volume_options.clone().into_iter().collect()),
            }
        })
    }

    /// The service: one replica, restarted by Swarm, replaced start-first (stop-first
    /// when its port is fixed: two tasks of one node cannot share it) and rolled back
    /// when the new task fails its health check.
    pub(super) fn service(
        &self,
        name: &str,
        inv: &Invocation,
        volume: &str,
        labels: &HashMap<String, String>,
        order: ServiceSpecUpdateConfigOrderEnum,
    ) -> ServiceSpec {
        let port = inv.http_port.unwrap_or(8069);
        let health = HealthConfig {
            test: Some(vec![
                "CMD".into(),
                "python3".into(),
                "-c".into(),
                HEALTHY.into(),
                format!("http://127.0.0.1:{port}/web/health"),
            ]),
            interval: Some(2 * NANOS),
            timeout: Some(6 * NANOS),
            retries: Some(3),
            start_period: Some(120 * NANOS),
            ..Default::default()
        };
        ServiceSpec {
            name: Some(name.to_string()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(self.container_spec(inv, volume, labels, health)),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(TaskSpecRestartPolicyConditionEnum::ANY),
                    delay: Some(2 * NANOS),
                    ..Default::default()
                }),
                placement: Some(TaskSpecPlacement {
                    constraints: Some(self.settings.constraints.clone()),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some(self.executor.network.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
                ..Default::default()
            }),
            update_config: Some(ServiceSpecUpdateConfig {
                parallelism: Some(1),
                failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
                monitor: Some(2 * NANOS),
                order: Some(order),
                ..Default::default()
            }),
            rollback_config: Some(ServiceSpecRollbackConfig {
                parallelism: Some(1),
                order: Some(match order {
                    ServiceSpecUpdateConfigOrderEnum::START_FIRST => {
                        ServiceSpecRollbackConfigOrderEnum::START_FIRST
                    }
                    _ => ServiceSpecRollbackConfigOrderEnum::STOP_FIRST,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

/// A `source:target[:ro]` bind of the executor (the commit's release volume, a mounted
/// checkout) as a service mount: a volume by name, a bind by absolute path.
fn mount_of(bind: &str) -> Option<Mount> {
    let mut parts = bind.splitn(3, ':');
    let (source, target) = (parts.next()?, parts.next()?);
    let typ = match source.starts_with('/') {
        true => MountType::BIND,
        false => MountType::VOLUME,
    };
    Some(Mount {
        target: Some(target.to_string()),
        source: Some(source.to_string()),
        typ: Some(typ),
        read_only: Some(parts.next() == Some("ro")),
        ..Default::default()
    })
}

/// The label carrying the port a service's server listens on.
pub(super) const PORT_LABEL: &str = "odoo-ci.http-port";

/// Start-first, unless the service before listens on the same port (a fixed
/// `http_port`): two tasks on one node cannot both bind it, so that one stops first.
pub(super) fn order_after(
    before: Option<&ServiceSpec>,
    port: Option<u16>,
) -> ServiceSpecUpdateConfigOrderEnum {
    let port_before = before.and_then(|s| s.labels.as_ref()?.get(PORT_LABEL)?.parse::<u16>().ok());
    match port_before.is_some() && port_before == port {
        true => ServiceSpecUpdateConfigOrderEnum::STOP_FIRST,
        false => ServiceSpecUpdateConfigOrderEnum::START_FIRST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_become_mounts_of_volumes_or_host_paths() {
        let release = mount_of("odoo-ci-rel-abc:/opt/odoo-ci/release:ro").unwrap();
        assert_eq!(release.typ, Some(MountType::VOLUME));
        assert_eq!(release.source.as_deref(), Some("odoo-ci-rel-abc"));
        assert_eq!(release.target.as_deref(), Some("/opt/odoo-ci/release"));
        assert_eq!(release.read_only, Some(true));
        let checkout = mount_of("/home/runner/work/p:/mnt/project").unwrap();
        assert_eq!(checkout.typ, Some(MountType::BIND));
        assert_eq!(checkout.read_only, Some(false));
        assert!(mount_of("nonsense").is_none());
    }

    #[test]
    fn a_fixed_port_stops_the_server_before_its_replacement_starts() {
        let spec = |port: &str| ServiceSpec {
            labels: Some(HashMap::from([(PORT_LABEL.to_string(), port.to_string())])),
            ..Default::default()
        };
        use ServiceSpecUpdateConfigOrderEnum::*;
        assert_eq!(order_after(Some(&spec("8069")), Some(8069)), STOP_FIRST);
        assert_eq!(order_after(Some(&spec("8069")), Some(40001)), START_FIRST);
        assert_eq!(order_after(None, Some(8069)), START_FIRST);
    }
}
