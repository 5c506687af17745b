//! Pure NUMA thread-distribution planning: given nodes (id + CPU list), SMT sibling groups and
//! a requested thread count, decides how many threads each node gets and which CPUs to pin to,
//! and renders the perf-key layout string ("node0:64,node1:64").
//! Must never touch the filesystem or the scheduler (no reading sysfs, no sched_setaffinity):
//! discovery lives in `hw`, pinning in the miner.

pub use crate::hw::NumaNode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlan {
    pub node: u32,
    pub threads: usize,
    /// CPUs to pin this node's threads to, in pinning order: one per physical core first, then
    /// second SMT threads, and so on. `cpus.len() == threads`.
    pub cpus: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPlan {
    /// One entry per node that has CPUs, by node id order of the input.
    pub nodes: Vec<NodePlan>,
    pub requested: usize,
    /// True when fewer threads than requested were planned because there are not enough CPUs.
    pub capped: bool,
}

impl ThreadPlan {
    pub fn total_threads(&self) -> usize {
        self.nodes.iter().map(|n| n.threads).sum()
    }

    /// Perf-key layout: threads per node, e.g. "node0:64,node1:64". Nodes with CPUs but no
    /// threads are listed with 0 so that the key names the topology it was measured on.
    pub fn layout(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("node{}:{}", n.node, n.threads))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every CPU to pin to, node by node.
    pub fn cpus(&self) -> Vec<u32> {
        self.nodes.iter().flat_map(|n| n.cpus.iter().copied()).collect()
    }

    /// The plan as `inspect` prints it.
    pub fn report(&self) -> crate::hw::report::NumaPlanReport {
        crate::hw::report::NumaPlanReport {
            threads: self.total_threads(),
            layout: self.layout(),
            cpus: self.cpus(),
            capped: self.capped,
        }
    }
}

/// Splits `n` over buckets proportionally to `caps` (largest remainder; ties go to the lower
/// index). Never gives a bucket more than its cap; `n` must not exceed the sum of caps.
fn proportional(n: usize, caps: &[usize]) -> Vec<usize> {
    let total: usize = caps.iter().sum();
    if total == 0 {
        return vec![0; caps.len()];
    }
    let n = n.min(total);
    let mut alloc: Vec<usize> = caps.iter().map(|c| n * c / total).collect();
    let mut order: Vec<usize> = (0..caps.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(n * caps[i] % total));
    let mut left = n - alloc.iter().sum::<usize>();
    for i in order.into_iter().cycle().take(caps.len() * 2) {
        if left == 0 {
            break;
        }
        if alloc[i] < caps[i] {
            alloc[i] += 1;
            left -= 1;
        }
    }
    alloc
}

/// For one node: its CPUs in tiers — tier 0 holds the first logical CPU of every physical
/// core, tier 1 the second SMT thread of every core that has one, etc.
fn tiers(cpus: &[u32], smt_siblings: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut seen: Vec<u32> = Vec::new();
    for &cpu in cpus {
        if seen.contains(&cpu) {
            continue;
        }
        let mut group: Vec<u32> = smt_siblings
            .iter()
            .find(|g| g.contains(&cpu))
            .map(|g| g.iter().copied().filter(|c| cpus.contains(c)).collect())
            .unwrap_or_else(|| vec![cpu]);
        group.sort_unstable();
        group.dedup();
        seen.extend(group.iter().copied());
        groups.push(group);
    }
    groups.sort_by_key(|g| g.first().copied());
    let depth = groups.iter().map(Vec::len).max().unwrap_or(0);
    (0..depth)
        .map(|r| groups.iter().filter_map(|g| g.get(r).copied()).collect())
        .collect()
}

/// Plans `threads` threads over `nodes`.
///
/// Threads go to physical cores first, across all nodes, proportionally to each node's
/// physical cores; SMT siblings are used only once every physical core has a thread, again
/// proportionally across nodes. On symmetric machines this is proportional to CPUs per node.
/// More threads than logical CPUs are capped (`capped = true`).
pub fn plan(nodes: &[NumaNode], smt_siblings: &[Vec<u32>], threads: usize) -> ThreadPlan {
    // A CPU listed by two nodes (broken firmware) belongs to the first.
    let mut taken: Vec<u32> = Vec::new();
    let mut usable: Vec<(u32, Vec<u32>)> = Vec::new();
    for node in nodes {
        let mut cpus: Vec<u32> = node.cpus.iter().copied().filter(|c| !taken.contains(c)).collect();
        cpus.sort_unstable();
        cpus.dedup();
        if cpus.is_empty() {
            continue;
        }
        taken.extend(cpus.iter().copied());
        usable.push((node.id, cpus));
    }
    let node_tiers: Vec<Vec<Vec<u32>>> = usable.iter().map(|(_, cpus)| tiers(cpus, smt_siblings)).collect();
    let mut plans: Vec<NodePlan> = usable
        .iter()
        .map(|(id, _)| NodePlan {
            node: *id,
            threads: 0,
            cpus: Vec::new(),
        })
        .collect();
    let depth = node_tiers.iter().map(Vec::len).max().unwrap_or(0);
    let mut left = threads.min(taken.len());
    for r in 0..depth {
        if left == 0 {
            break;
        }
        let caps: Vec<usize> = node_tiers.iter().map(|t| t.get(r).map_or(0, Vec::len)).collect();
        let give = left.min(caps.iter().sum());
        for (i, k) in proportional(give, &caps).into_iter().enumerate() {
            if let Some(tier) = node_tiers[i].get(r) {
                plans[i].cpus.extend(tier.iter().take(k).copied());
                plans[i].threads += k;
            }
        }
        left -= give;
    }
    ThreadPlan {
        nodes: plans,
        requested: threads,
        capped: threads > taken.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Linux numbering of a 2-socket, 32-core, 2-SMT machine: node0 = 0-31,64-95,
    /// node1 = 32-63,96-127, siblings (i, i+64).
    fn dual_32x2() -> (Vec<NumaNode>, Vec<Vec<u32>>) {
        let nodes = vec![
            NumaNode {
                id: 0,
                cpus: (0..32).chain(64..96).collect(),
            },
            NumaNode {
                id: 1,
                cpus: (32..64).chain(96..128).collect(),
            },
        ];
        let smt = (0..64).map(|i| vec![i, i + 64]).collect();
        (nodes, smt)
    }

    #[test]
    fn dual_socket_full_half_and_three_quarters() {
        let (nodes, smt) = dual_32x2();
        let p = plan(&nodes, &smt, 128);
        assert_eq!(p.layout(), "node0:64,node1:64");
        assert!(!p.capped);
        let mut all = p.cpus();
        all.sort_unstable();
        assert_eq!(all, (0..128).collect::<Vec<_>>());

        let p = plan(&nodes, &smt, 64);
        assert_eq!(p.layout(), "node0:32,node1:32");
        assert!(p.cpus().iter().all(|&c| c < 64), "physical cores only");
        assert_eq!(p.nodes[0].cpus, (0..32).collect::<Vec<_>>());
        assert_eq!(p.nodes[1].cpus, (32..64).collect::<Vec<_>>());

        let p = plan(&nodes, &smt, 96);
        assert_eq!(p.layout(), "node0:48,node1:48");
        let expect0: Vec<u32> = (0..32).chain(64..80).collect();
        assert_eq!(p.nodes[0].cpus, expect0);

        let p = plan(&nodes, &smt, 3);
        assert_eq!(p.layout(), "node0:2,node1:1");
        assert_eq!(p.cpus(), vec![0, 1, 32]);
    }

    #[test]
    fn uneven_nodes_are_proportional() {
        let nodes = vec![
            NumaNode {
                id: 0,
                cpus: (0..8).collect(),
            },
            NumaNode {
                id: 1,
                cpus: (8..12).collect(),
            },
        ];
        let p = plan(&nodes, &[], 6);
        assert_eq!(p.layout(), "node0:4,node1:2");
        assert_eq!(p.total_threads(), 6);
    }

    #[test]
    fn siblings_only_after_every_physical_core() {
        // node0: 8 cores without SMT; node1: 4 cores x 2 SMT (siblings i, i+4).
        let nodes = vec![
            NumaNode {
                id: 0,
                cpus: (0..8).collect(),
            },
            NumaNode {
                id: 1,
                cpus: (8..16).collect(),
            },
        ];
        let smt: Vec<Vec<u32>> = (8..12).map(|i| vec![i, i + 4]).collect();
        let p = plan(&nodes, &smt, 12);
        assert_eq!(p.layout(), "node0:8,node1:4");
        assert_eq!(p.nodes[1].cpus, vec![8, 9, 10, 11]);
        let p = plan(&nodes, &smt, 14);
        assert_eq!(p.layout(), "node0:8,node1:6");
        assert_eq!(p.nodes[1].cpus, vec![8, 9, 10, 11, 12, 13]);
    }

    #[test]
    fn single_node_smt_order() {
        let nodes = vec![NumaNode {
            id: 0,
            cpus: (0..8).collect(),
        }];
        let smt: Vec<Vec<u32>> = (0..4).map(|i| vec![i, i + 4]).collect();
        let p = plan(&nodes, &smt, 6);
        assert_eq!(p.layout(), "node0:6");
        assert_eq!(p.cpus(), vec![0, 1, 2, 3, 4, 5]);
        // Adjacent sibling numbering (0,1),(2,3)...: physical cores first is 0,2,4,6.
        let smt: Vec<Vec<u32>> = (0..4).map(|i| vec![2 * i, 2 * i + 1]).collect();
        assert_eq!(plan(&nodes, &smt, 5).cpus(), vec![0, 2, 4, 6, 1]);
    }

    #[test]
    fn more_threads_than_cpus_is_capped() {
        let (nodes, smt) = dual_32x2();
        let p = plan(&nodes, &smt, 500);
        assert!(p.capped);
        assert_eq!(p.requested, 500);
        assert_eq!(p.total_threads(), 128);
        assert_eq!(p.layout(), "node0:64,node1:64");
    }

    #[test]
    fn zero_threads_memory_only_nodes_and_empty_input() {
        let nodes = vec![
            NumaNode {
                id: 0,
                cpus: vec![0, 1],
            },
            NumaNode { id: 1, cpus: vec![] },
        ];
        let p = plan(&nodes, &[], 0);
        assert_eq!(p.layout(), "node0:0");
        assert!(!p.capped);
        let p = plan(&[], &[], 4);
        assert_eq!((p.layout(), p.capped), (String::new(), true));
    }

    #[test]
    fn proportional_respects_caps() {
        assert_eq!(proportional(5, &[1, 10]), vec![0, 5]);
        assert_eq!(proportional(3, &[1, 1, 1]), vec![1, 1, 1]);
        assert_eq!(proportional(1, &[2, 2]), vec![1, 0]);
        assert_eq!(proportional(0, &[0, 0]), vec![0, 0]);
    }
}
