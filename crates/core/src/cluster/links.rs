//! The links that carry KV caches from prefill to decode replicas, shared fairly.
//!
//! Every transfer leaves through a *send port* of its prefill replica and enters through a
//! *receive port* of its decode replica: the replicas' NVLink when both sit in one NVLink
//! domain, otherwise their NICs (one per GPU, so a replica's port has its GPUs' NICs; or one per
//! node, shared by the node's replicas). Transfers in flight share the ports max-min fairly
//! (progressive filling: every transfer's rate rises together until a port is full, those
//! through it freeze, the rest go on), so two transfers through one port each get half of it,
//! and a transfer limited elsewhere leaves its share to the others. Rates change only when a
//! transfer starts or ends; between those instants every transfer moves bytes at its rate.

use crate::ids::RequestId;
use crate::scenario::NicLayout;
use crate::time::{SimDuration, SimTime};

/// The share of NVLink's datasheet bandwidth a KV copy between GPUs achieves (aiconfigurator's
/// empirical memory-bandwidth factor, `docs/model.md` §KV transfer).
pub const NVLINK_COPY_EFFICIENCY: f64 = 0.8;

/// What the links report of an interval: its start and end, the bytes per second carried, and
/// the transfers carrying them.
pub type OnBytes<'a> = dyn FnMut(SimTime, SimTime, f64, u64) + 'a;

/// Where one replica sits, and its GPU's links.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placement {
    /// Index of its first GPU in the cluster.
    pub first_gpu: u64,
    /// GPUs it uses.
    pub gpus: u64,
    /// NVLink bandwidth per GPU per direction, GB/s.
    pub nvlink_gb_s: f64,
    /// NIC bandwidth per NIC per direction, GB/s.
    pub nic_gb_s: f64,
}

/// The shape of the fabric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fabric {
    /// GPUs per node.
    pub gpus_per_node: u64,
    /// GPUs per NVLink domain.
    pub nvlink_domain_gpus: u64,
    /// NICs per GPU or per node.
    pub nics: NicLayout,
    /// Fraction of a NIC's line rate a transfer achieves.
    pub nic_efficiency: f64,
}

/// A transfer in flight.
#[derive(Clone, Copy, Debug)]
struct Flow {
    request: RequestId,
    send: usize,
    receive: usize,
    remaining_bytes: f64,
    /// Bytes per second since the last change.
    rate: f64,
}

/// The ports and the transfers using them.
#[derive(Clone, Debug)]
pub struct Links {
    /// Capacity of each port, bytes/s.
    capacity: Vec<f64>,
    /// Whether each port sends (a prefill replica's or node's) rather than receives.
    sends: Vec<bool>,
    /// Bytes each port has carried.
    carried: Vec<f64>,
    /// Per prefill replica: its NVLink and NIC send ports, and its NVLink domain (or none when it
    /// spans domains).
    prefill_ports: Vec<(usize, usize, Option<u64>)>,
    /// The same per decode replica, receiving.
    decode_ports: Vec<(usize, usize, Option<u64>)>,
    flows: Vec<Flow>,
    updated_at: SimTime,
    /// Bumped whenever rates change, so that a stale completion event is ignored.
    generation: u64,
}

impl Links {
    /// The ports of `prefill` and `decode` replicas placed on `fabric`.
    pub fn new(prefill: &[Placement], decode: &[Placement], fabric: Fabric) -> Links {
        let mut links = Links {
            capacity: Vec::new(),
            sends: Vec::new(),
            carried: Vec::new(),
            prefill_ports: Vec::new(),
            decode_ports: Vec::new(),
            flows: Vec::new(),
            updated_at: SimTime::ZERO,
            generation: 0,
        };
        for (replicas, sends) in [(prefill, true), (decode, false)] {
            // Per-node NIC ports, shared by the node's replicas on this side.
            let mut node_ports: Vec<(u64, usize)> = Vec::new();
            for placement in replicas {
                let gb = 1e9;
                let nvlink =
                    links.add_port(placement.gpus as f64 * placement.nvlink_gb_s * gb * NVLINK_COPY_EFFICIENCY, sends);
                let nic = match fabric.nics {
                    NicLayout::PerGpu => {
                        links.add_port(placement.gpus as f64 * placement.nic_gb_s * gb * fabric.nic_efficiency, sends)
                    }
                    NicLayout::PerNode => {
                        let node = placement.first_gpu / fabric.gpus_per_node;
                        match node_ports.iter().find(|(n, _)| *n == node) {
                            Some(&(_, port)) => port,
                            None => {
                                let port = links.add_port(placement.nic_gb_s * gb * fabric.nic_efficiency, sends);
                                node_ports.push((node, port));
                                port
                            }
                        }
                    }
                };
                let domain = placement.first_gpu / fabric.nvlink_domain_gpus;
                let last_domain = (placement.first_gpu + placement.gpus - 1) / fabric.nvlink_domain_gpus;
                let ports = (nvlink, nic, (domain == last_domain).then_some(domain));
                if sends {
                    links.prefill_ports.push(ports);
                } else {
                    links.decode_ports.push(ports);
                }
            }
        }
        links
    }

    fn add_port(&mut self, capacity: f64, sends: bool) -> usize {
        self.capacity.push(capacity);
        self.sends.push(sends);
        self.carried.push(0.0);
        self.capacity.len() - 1
    }

    /// Whether a transfer from prefill replica `from` to decode replica `to` goes over NVLink.
    pub fn over_nvlink(&self, from: usize, to: usize) -> bool {
        matches!((self.prefill_ports[from].2, self.decode_ports[to].2), (Some(a), Some(b)) if a == b)
    }

    /// The generation a completion event must carry to be current.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Transfers in flight.
    pub fn num_in_flight(&self) -> usize {
        self.flows.len()
    }

    /// Moves every transfer's bytes on to `at` at its rate; calls `on_bytes(from, to, bytes/s,
    /// transfers)` for the interval so that it can be bucketed.
    fn progress(&mut self, at: SimTime, on_bytes: &mut OnBytes<'_>) {
        if at <= self.updated_at {
            return;
        }
        let seconds = (at - self.updated_at).as_secs_f64();
        let mut total_rate = 0.0;
        for flow in &mut self.flows {
            let moved = (flow.rate * seconds).min(flow.remaining_bytes);
            flow.remaining_bytes -= moved;
            self.carried[flow.send] += moved;
            self.carried[flow.receive] += moved;
            total_rate += flow.rate;
        }
        if total_rate > 0.0 {
            on_bytes(self.updated_at, at, total_rate, self.flows.len() as u64);
        }
        self.updated_at = at;
    }

    /// Starts moving `bytes` of `request`'s KV from prefill replica `from` to decode replica
    /// `to` at `at`; returns when the next transfer ends.
    pub fn start(
        &mut self,
        at: SimTime,
        request: RequestId,
        (from, to): (usize, usize),
        bytes: f64,
        on_bytes: &mut OnBytes<'_>,
    ) -> Option<SimTime> {
        self.progress(at, on_bytes);
        let (send, receive) = if self.over_nvlink(from, to) {
            (self.prefill_ports[from].0, self.decode_ports[to].0)
        } else {
            (self.prefill_ports[from].1, self.decode_ports[to].1)
        };
        self.flows.push(Flow { request, send, receive, remaining_bytes: bytes, rate: 0.0 });
        self.share();
        self.next_end()
    }

    /// Ends the transfers due by `at` (their requests go to `ended`, in start order) and
    /// returns when the next one ends.
    pub fn finish_due(
        &mut self,
        at: SimTime,
        ended: &mut Vec<RequestId>,
        on_bytes: &mut OnBytes<'_>,
    ) -> Option<SimTime> {
        self.progress(at, on_bytes);
        let before = self.flows.len();
        self.flows.retain(|flow| {
            // Due when what is left would take under a nanosecond (rates are not exact).
            let done = flow.remaining_bytes <= flow.rate * 1e-9;
            if done {
                ended.push(flow.request);
            }
            !done
        });
        if self.flows.len() != before {
            self.share();
        }
        self.next_end()
    }

    /// When the first transfer in flight ends at the current rates.
    fn next_end(&self) -> Option<SimTime> {
        self.flows
            .iter()
            .map(|flow| {
                self.updated_at + SimDuration::from_nanos((flow.remaining_bytes / flow.rate * 1e9).ceil() as u64)
            })
            .min()
    }

    /// Max-min fair rates by progressive filling: O(ports² + transfers), each port's transfers
    /// listed once.
    fn share(&mut self) {
        self.generation += 1;
        let num_ports = self.capacity.len();
        let mut left = self.capacity.clone();
        let mut users = vec![0u32; num_ports];
        for flow in &self.flows {
            users[flow.send] += 1;
            users[flow.receive] += 1;
        }
        // The transfers through each port, in start order: `through[starts[p]..starts[p + 1]]`.
        let mut starts = vec![0usize; num_ports + 1];
        for port in 0..num_ports {
            starts[port + 1] = starts[port] + users[port] as usize;
        }
        let mut filled = starts.clone();
        let mut through = vec![0usize; starts[num_ports]];
        for (index, flow) in self.flows.iter().enumerate() {
            for port in [flow.send, flow.receive] {
                through[filled[port]] = index;
                filled[port] += 1;
            }
        }
        let mut active: Vec<usize> = (0..num_ports).filter(|&port| users[port] > 0).collect();
        let mut frozen = vec![false; self.flows.len()];
        let mut num_frozen = 0;
        while num_frozen < self.flows.len() {
            // The port whose equal share is smallest is the bottleneck of all its unfrozen flows.
            let (port, share) = active
                .iter()
                .map(|&port| (port, left[port] / f64::from(users[port])))
                .min_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)))
                .expect("an unfrozen flow uses a port");
            for &index in &through[starts[port]..starts[port + 1]] {
                if frozen[index] {
                    continue;
                }
                frozen[index] = true;
                num_frozen += 1;
                let flow = &mut self.flows[index];
                flow.rate = share;
                for used in [flow.send, flow.receive] {
                    left[used] = (left[used] - share).max(0.0);
                    users[used] -= 1;
                }
            }
            active.retain(|&port| users[port] > 0);
        }
    }

    /// Send capacity of the ports that carried bytes, bytes/s: what utilisation is measured
    /// against.
    pub fn used_send_capacity(&self) -> f64 {
        (0..self.capacity.len())
            .filter(|&port| self.sends[port] && self.carried[port] > 0.0)
            .map(|port| self.capacity[port])
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(millis)
    }

    fn placement(first_gpu: u64, gpus: u64) -> Placement {
        Placement { first_gpu, gpus, nvlink_gb_s: 450.0, nic_gb_s: 50.0 }
    }

    fn fabric(nics: NicLayout) -> Fabric {
        Fabric { gpus_per_node: 8, nvlink_domain_gpus: 8, nics, nic_efficiency: 0.5 }
    }

    fn run_to_end(links: &mut Links, mut next: Option<SimTime>) -> Vec<(RequestId, SimTime)> {
        let mut ends = Vec::new();
        while let Some(at) = next {
            let mut ended = Vec::new();
            next = links.finish_due(at, &mut ended, &mut |_, _, _, _| {});
            ends.extend(ended.into_iter().map(|request| (request, at)));
        }
        ends
    }

    #[test]
    fn one_transfer_moves_at_its_nics_rate_and_two_sharing_a_port_take_twice_as_long() {
        // Prefill replica on GPUs 0-1 (node 0), decode replicas on GPUs 8 and 9 (node 1): NICs.
        let prefill = [placement(0, 2)];
        let decode = [placement(8, 1), placement(9, 1)];
        let mut links = Links::new(&prefill, &decode, fabric(NicLayout::PerGpu));
        assert!(!links.over_nvlink(0, 0));
        // 2 NICs × 50 GB/s × 0.5 = 50 GB/s out; 25 GB/s into one decode GPU: 1 GB takes 40 ms.
        let next = links.start(SimTime::ZERO, RequestId(0), (0, 0), 1e9, &mut |_, _, _, _| {});
        assert_eq!(run_to_end(&mut links, next), vec![(RequestId(0), ms(40))]);
        // Two 1 GB transfers into the same decode replica share its 25 GB/s: 80 ms each.
        let mut links = Links::new(&prefill, &decode, fabric(NicLayout::PerGpu));
        links.start(SimTime::ZERO, RequestId(1), (0, 0), 1e9, &mut |_, _, _, _| {});
        let next = links.start(SimTime::ZERO, RequestId(2), (0, 0), 1e9, &mut |_, _, _, _| {});
        let at = ms(80);
        assert_eq!(run_to_end(&mut links, next), vec![(RequestId(1), at), (RequestId(2), at)]);
    }

    #[test]
    fn max_min_fairness_gives_a_flow_limited_elsewhere_less_and_the_rest_more() {
        // One prefill replica (8 GPUs × 50 × 0.5 = 200 GB/s out) sends to a 1-GPU decode replica
        // (25 GB/s in) and a 4-GPU one (100 GB/s in): neither shares a bottleneck, so 25 and
        // 100 GB/s. A third flow into the 4-GPU replica halves that one's share: 50 and 50.
        let prefill = [placement(0, 8)];
        let decode = [placement(8, 1), placement(12, 4)];
        let mut links = Links::new(&prefill, &decode, fabric(NicLayout::PerGpu));
        links.start(SimTime::ZERO, RequestId(0), (0, 0), 25e9, &mut |_, _, _, _| {});
        links.start(SimTime::ZERO, RequestId(1), (0, 1), 100e9, &mut |_, _, _, _| {});
        let rates: Vec<f64> = links.flows.iter().map(|flow| flow.rate / 1e9).collect();
        assert_eq!(rates, vec![25.0, 100.0]);
        links.start(SimTime::ZERO, RequestId(2), (0, 1), 50e9, &mut |_, _, _, _| {});
        let rates: Vec<f64> = links.flows.iter().map(|flow| flow.rate / 1e9).collect();
        assert_eq!(rates, vec![25.0, 50.0, 50.0]);
        // Flow 2 ends at 1 s; flow 1 then has 50 GB left at 100 GB/s: ends at 1.5 s; flow 0 at 1 s.
        let ends = run_to_end(&mut links, Some(ms(1_000)));
        assert_eq!(ends, vec![(RequestId(0), ms(1_000)), (RequestId(2), ms(1_000)), (RequestId(1), ms(1_500)),]);
    }

    #[test]
    fn replicas_in_one_nvlink_domain_use_nvlink_and_per_node_nics_are_shared() {
        let prefill = [placement(0, 2), placement(2, 2)];
        let decode = [placement(4, 4), placement(8, 4)];
        let mut links = Links::new(&prefill, &decode, fabric(NicLayout::PerNode));
        assert!(links.over_nvlink(0, 0) && links.over_nvlink(1, 0));
        assert!(!links.over_nvlink(0, 1));
        // NVLink: 2 GPUs × 450 × 0.8 = 720 GB/s out, 1,440 in: 7.2 GB takes 10 ms.
        let next = links.start(SimTime::ZERO, RequestId(0), (0, 0), 7.2e9, &mut |_, _, _, _| {});
        assert_eq!(run_to_end(&mut links, next), vec![(RequestId(0), ms(10))]);
        // Both prefill replicas share node 0's one NIC (25 GB/s) towards node 1.
        let mut links = Links::new(&prefill, &decode, fabric(NicLayout::PerNode));
        links.start(SimTime::ZERO, RequestId(1), (0, 1), 1e9, &mut |_, _, _, _| {});
        let next = links.start(SimTime::ZERO, RequestId(2), (1, 1), 1e9, &mut |_, _, _, _| {});
        let at = ms(80);
        assert_eq!(run_to_end(&mut links, next), vec![(RequestId(1), at), (RequestId(2), at)]);
    }
}
