//! Fake addresses: node `i` gets host IP `172.16.0.0 + i + 1` and pod range
//! `10.(64 + i/256).(i%256).0/24`, from which its pods take `.2`–`.254`.

use std::net::Ipv4Addr;

/// The InternalIP of node number `index`.
pub fn node_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(172, 16, 0, 0)) + index as u32 + 1)
}

/// The pod CIDR of node number `index`.
pub fn pod_cidr(index: usize) -> String {
    format!("10.{}.{}.0/24", 64 + index / 256, index % 256)
}

/// Hands out pod IPs of one node's `/24`; freed addresses are reused.
#[derive(Debug)]
pub struct PodIps {
    base: u32,
    used: [u64; 4],
}

impl PodIps {
    pub fn new(index: usize) -> Self {
        let base = u32::from(Ipv4Addr::new(
            10,
            (64 + index / 256) as u8,
            (index % 256) as u8,
            0,
        ));
        Self { base, used: [0; 4] }
    }

    /// A free address, or None when all 253 are in use.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        for host in 2..255u32 {
            let (w, b) = ((host / 64) as usize, host % 64);
            if self.used[w] & (1 << b) == 0 {
                self.used[w] |= 1 << b;
                return Some(Ipv4Addr::from(self.base + host));
            }
        }
        None
    }

    /// Mark an address used (a pod that already ran before this process started).
    pub fn claim(&mut self, ip: Ipv4Addr) {
        if let Some(host) = self.host(ip) {
            self.used[(host / 64) as usize] |= 1 << (host % 64);
        }
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(host) = self.host(ip) {
            self.used[(host / 64) as usize] &= !(1 << (host % 64));
        }
    }

    fn host(&self, ip: Ipv4Addr) -> Option<u32> {
        let v = u32::from(ip);
        (v & !0xff == self.base).then_some(v & 0xff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_do_not_overlap_and_addresses_are_reused() {
        assert_eq!(node_ip(0), Ipv4Addr::new(172, 16, 0, 1));
        assert_eq!(pod_cidr(257), "10.65.1.0/24");
        let mut ips = PodIps::new(257);
        let a = ips.allocate().unwrap();
        assert_eq!(a, Ipv4Addr::new(10, 65, 1, 2));
        let b = ips.allocate().unwrap();
        assert_eq!(b, Ipv4Addr::new(10, 65, 1, 3));
        ips.release(a);
        assert_eq!(ips.allocate().unwrap(), a);
        for _ in 0..251 {
            assert!(ips.allocate().is_some());
        }
        assert!(ips.allocate().is_none());
    }
}
