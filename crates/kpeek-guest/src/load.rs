//! Load for the ring programs: on every CPU, a thread that sends UDP datagrams to itself over
//! loopback (each one runs `netif_receive_skb` in softirq on that CPU) and a pair of threads
//! that ping-pong a byte (a context switch per hop, hence `sched_switch`).

use std::io::{Read, Write};
use std::net::UdpSocket;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use crate::syscalls;

/// Bring `lo` up (the guest's init leaves it down). Needs CAP_NET_ADMIN when it is down.
pub fn ensure_lo_up() -> anyhow::Result<()> {
    // SAFETY: plain socket(2).
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        anyhow::bail!("socket(AF_INET): {}", std::io::Error::last_os_error());
    }
    // SAFETY: s was just created and is owned here.
    let _own = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(s) };
    // SAFETY: a zeroed ifreq is valid; the name is NUL-terminated.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills ifr_ifru.ifru_flags of a valid ifreq.
    if unsafe { libc::ioctl(s, libc::SIOCGIFFLAGS, &mut ifr) } != 0 {
        anyhow::bail!("SIOCGIFFLAGS lo: {}", std::io::Error::last_os_error());
    }
    // SAFETY: the union member SIOCGIFFLAGS wrote.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as i16 == 0 {
        ifr.ifr_ifru.ifru_flags = flags | libc::IFF_UP as i16;
        // SAFETY: as above.
        if unsafe { libc::ioctl(s, libc::SIOCSIFFLAGS, &ifr) } != 0 {
            anyhow::bail!(
                "lo is down and bringing it up failed: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// Running load threads; `stop` joins them and returns (datagrams received, ping-pong hops).
pub struct Load {
    stop: Arc<AtomicBool>,
    packets: Arc<AtomicU64>,
    hops: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// Start `udp_per_cpu` UDP threads and `pingpong_per_cpu` ping-pong pairs pinned to each
    /// of `cpus` CPUs.
    pub fn start(cpus: usize, udp_per_cpu: usize, pingpong_per_cpu: usize) -> anyhow::Result<Load> {
        ensure_lo_up()?;
        let stop = Arc::new(AtomicBool::new(false));
        let packets = Arc::new(AtomicU64::new(0));
        let hops = Arc::new(AtomicU64::new(0));
        let mut threads = Vec::new();
        for cpu in 0..cpus {
            for _ in 0..udp_per_cpu {
                let sock = UdpSocket::bind("127.0.0.1:0")?;
                sock.connect(sock.local_addr()?)?;
                sock.set_nonblocking(true)?;
                let (stop, packets) = (stop.clone(), packets.clone());
                threads.push(std::thread::spawn(move || {
                    let _ = syscalls::pin_to_cpu(cpu);
                    udp_loop(&sock, &stop, &packets)
                }));
            }
            for _ in 0..pingpong_per_cpu {
                let (mut a, mut b) = UnixStream::pair()?;
                let (stop2, hops2) = (stop.clone(), hops.clone());
                threads.push(std::thread::spawn(move || {
                    let _ = syscalls::pin_to_cpu(cpu);
                    let mut x = [0u8; 1];
                    while b.read_exact(&mut x).is_ok() && x[0] != 0 {
                        hops2.fetch_add(1, Ordering::Relaxed);
                        if b.write_all(&x).is_err() {
                            break;
                        }
                    }
                }));
                threads.push(std::thread::spawn(move || {
                    let _ = syscalls::pin_to_cpu(cpu);
                    let mut x = [1u8; 1];
                    while !stop2.load(Ordering::Relaxed) {
                        if a.write_all(&[1]).is_err() || a.read_exact(&mut x).is_err() {
                            break;
                        }
                    }
                    let _ = a.write_all(&[0]);
                }));
            }
        }
        Ok(Load {
            stop,
            packets,
            hops,
            threads,
        })
    }

    pub fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        (
            self.packets.load(Ordering::Relaxed),
            self.hops.load(Ordering::Relaxed),
        )
    }
}

fn udp_loop(sock: &UdpSocket, stop: &AtomicBool, packets: &AtomicU64) {
    let msg = [0x6bu8; 64];
    let mut buf = [0u8; 128];
    while !stop.load(Ordering::Relaxed) {
        // A burst, then take back what arrived: loopback delivers in softirq on this CPU.
        let mut sent = 0;
        for _ in 0..16 {
            if sock.send(&msg).is_ok() {
                sent += 1;
            }
        }
        let mut got = 0;
        while sock.recv(&mut buf).is_ok() {
            got += 1;
        }
        packets.fetch_add(got, Ordering::Relaxed);
        if sent == 0 && got == 0 {
            std::thread::yield_now();
        }
    }
}

/// A few events on every CPU while nothing else runs: a sleep (two context switches) and a
/// loopback datagram per CPU, from a thread pinned there.
pub fn poke_every_cpu(cpus: usize) {
    let handles: Vec<_> = (0..cpus)
        .map(|cpu| {
            std::thread::spawn(move || {
                let _ = syscalls::pin_to_cpu(cpu);
                for _ in 0..3 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    if let Ok(s) = UdpSocket::bind("127.0.0.1:0") {
                        if let Ok(a) = s.local_addr() {
                            let _ = s.send_to(b"poke", a);
                        }
                        let _ = s.set_nonblocking(true);
                        let mut b = [0u8; 8];
                        let _ = s.recv(&mut b);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
}
