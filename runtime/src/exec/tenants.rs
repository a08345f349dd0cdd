//! Tenants of one `weir run`: every pipeline names its tenant, and all
//! plugin instances of a tenant's pipelines share one [`TenantQuota`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::graph::Graph;
use crate::plugin::TenantQuota;
use crate::spec::TenantSpec;

/// Gives every graph its tenant's shared quota. Answers, by graph index, the
/// pipelines that cannot run: a tenant stated with other quotas than in an
/// earlier file, or whose pipelines together keep more plugin instances
/// alive than its `max_instances`.
pub fn assign_quotas(graphs: &mut [Graph]) -> Vec<(usize, String)> {
    let mut refused = Vec::new();
    let mut tenants: BTreeMap<String, (TenantSpec, Arc<TenantQuota>, Vec<usize>)> = BTreeMap::new();
    for (i, graph) in graphs.iter_mut().enumerate() {
        let spec = &graph.pipeline.tenant;
        let (first, quota, members) = tenants.entry(spec.name.clone()).or_insert_with(|| {
            let quota = TenantQuota::new(
                &spec.name,
                spec.max_memory_mib.map(|mib| mib << 20),
                spec.max_instances,
            );
            (spec.clone(), Arc::new(quota), Vec::new())
        });
        if first != spec {
            refused.push((
                i,
                format!(
                    "tenant {:?} is given other quotas here than in an earlier pipeline file ({first:?} there, {spec:?} here); state them alike",
                    spec.name
                ),
            ));
            continue;
        }
        graph.set_tenant_quota(quota);
        members.push(i);
    }
    for (name, (spec, _, members)) in tenants {
        let needed: usize = members.iter().map(|&i| graphs[i].plugin_instances()).sum();
        if let Some(max) = spec.max_instances.filter(|&max| needed > max) {
            for i in members {
                refused.push((
                    i,
                    format!(
                        "tenant {name:?}'s pipelines keep {needed} plugin instances alive, more than its quota (tenant.max_instances: {max})"
                    ),
                ));
            }
        }
    }
    refused.sort();
    refused
}
