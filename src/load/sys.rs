//! What the event loop needs from the operating system beyond `mio`: a microsecond timer (timerfd), the calling
//! thread's CPU time, and a connected UDP socket.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

use super::clock::Nanos;
use super::report::CpuTime;

/// A UDP socket bound to an ephemeral port and connected to `target`: it hears only the target, and an ICMP
/// port-unreachable comes back as ECONNREFUSED.
pub(super) fn udp_socket(target: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("address")
    } else {
        "[::]:0".parse().expect("address")
    };
    let socket = std::net::UdpSocket::bind(local)?;
    socket.connect(target)?;
    socket.set_nonblocking(true)?;
    Ok(UdpSocket::from_std(socket))
}

/// CPU time of the calling thread so far.
pub(super) fn thread_cpu() -> CpuTime {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    if rc != 0 {
        return CpuTime::default();
    }
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    CpuTime {
        user_us: us(usage.ru_utime),
        system_us: us(usage.ru_stime),
    }
}

/// CPU time of the calling thread since `before` (a [`thread_cpu`] reading on the same thread).
pub(super) fn thread_cpu_since(before: CpuTime) -> CpuTime {
    let after = thread_cpu();
    CpuTime {
        user_us: after.user_us.saturating_sub(before.user_us),
        system_us: after.system_us.saturating_sub(before.system_us),
    }
}

/// A timerfd in the event loop: open-loop sends wake the loop at their due time to the microsecond, where an
/// `epoll_wait` timeout is rounded up to whole milliseconds (a send 1 ms late would be counted against the
/// server in the corrected latency).
pub(super) struct Timer {
    fd: std::os::fd::OwnedFd,
    /// The due time it is set for; `Nanos::NEVER`: none.
    armed_for: Nanos,
}

impl Timer {
    pub(super) fn new() -> io::Result<Timer> {
        use std::os::fd::FromRawFd;
        // SAFETY: timerfd_create returns a new descriptor or -1.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(Timer {
            fd,
            armed_for: Nanos::NEVER,
        })
    }

    pub(super) fn raw(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.fd.as_raw_fd()
    }

    /// Makes the timer fire `due - now` from now (at once if due is past).
    pub(super) fn arm(&mut self, due: Nanos, now: Nanos) {
        if self.armed_for == due {
            return;
        }
        let delay = due.saturating_sub(now).as_nanos().max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (delay / 1_000_000_000) as libc::time_t,
                tv_nsec: (delay % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: a valid timerfd and a valid itimerspec.
        unsafe { libc::timerfd_settime(self.raw(), 0, &spec, std::ptr::null_mut()) };
        self.armed_for = due;
    }

    /// Clears an expiry so that the next one is a new edge.
    pub(super) fn clear(&mut self) {
        let mut count = [0u8; 8];
        // SAFETY: reading 8 bytes into an 8-byte buffer.
        unsafe { libc::read(self.raw(), count.as_mut_ptr().cast(), 8) };
        self.armed_for = Nanos::NEVER;
    }
}
