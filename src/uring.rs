//! io_uring set-up shared by the `uring` model and the load generator's ring engine: whether io_uring may be used
//! here (and if not, why, in a line), a ring for one thread, queueing an entry, and the provided-buffer ring that
//! receives go into. What each operation is for, and how a loop enters the ring, stay with each user.

use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::{IoUring, squeue};

/// Where Linux says whether io_uring may be used: 0 yes, 1 only by a privileged group, 2 by nobody.
pub const DISABLED_SWITCH: &str = "/proc/sys/kernel/io_uring_disabled";

/// The one buffer group of a ring: each ring here has a single provided-buffer ring.
pub const BUFFER_GROUP: u16 = 0;

/// Whether io_uring can be used on this machine, as the one-line reason for `who` (`--model uring`, `--io uring`)
/// to refuse if not. Reads [`DISABLED_SWITCH`] and, unless it says no outright, sets up a ring and a buffer ring as
/// the users of this module will.
pub fn check_available(who: &str) -> Result<(), String> {
    let switch = std::fs::read_to_string(DISABLED_SWITCH).ok();
    refusal(who, switch.as_deref(), || {
        let ring = new_ring(8)?;
        BufRing::register(&ring, 1, 64).map(drop)
    })
}

/// Turns the switch's setting (`None`: the file is absent, as on kernels older than 6.6) and the outcome of an
/// attempt to set up a ring into the reason to refuse, if there is one.
pub fn refusal(
    who: &str,
    switch: Option<&str>,
    attempt: impl FnOnce() -> io::Result<()>,
) -> Result<(), String> {
    let setting = switch.map(str::trim);
    if setting == Some("2") {
        return Err(format!(
            "{who}: io_uring is disabled on this machine ({DISABLED_SWITCH} is 2)"
        ));
    }
    let Err(e) = attempt() else {
        return Ok(());
    };
    let why = match (e.raw_os_error(), setting) {
        (Some(libc::EPERM), Some("1")) => format!(
            "io_uring is restricted to the kernel.io_uring_group group ({DISABLED_SWITCH} is 1), which this process is not in"
        ),
        (Some(libc::EPERM | libc::EACCES), _) => {
            "io_uring is not permitted here (a seccomp filter, as in many containers, or a security module)".into()
        }
        (Some(libc::ENOSYS), _) => "this kernel has no io_uring (older than 5.1, or built without it)".into(),
        (Some(libc::EINVAL), _) => {
            "this kernel's io_uring lacks what is used here (provided-buffer rings: Linux 5.19 or later)".into()
        }
        _ => format!("cannot set up an io_uring: {e}"),
    };
    Err(format!("{who}: {why}"))
}

/// A ring for one thread: the kernel runs completion work only when that thread enters (`DEFER_TASKRUN`), so
/// nothing interrupts the loop between its turns. Plain on kernels without those flags (before 6.1).
pub fn new_ring(entries: u32) -> io::Result<IoUring> {
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_submit_all()
        .build(entries)
        .or_else(|_| IoUring::new(entries))
}

/// What an `io_uring_enter` that submitted and waited came to: a wait that timed out (ETIME), a signal (EINTR) or a
/// completion queue too full to take more (EBUSY) is not a failure; the loop handles what is there and enters
/// again.
pub fn entered(result: io::Result<usize>) -> io::Result<()> {
    match result {
        Err(e)
            if !matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY)
            ) =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}

/// Puts `entry` in the submission queue; when the queue is full, submits what is there first (a rare extra
/// `io_uring_enter`).
pub fn push(ring: &mut IoUring, entry: squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: every caller keeps the memory an entry points to valid until its operation completes: the model
        // releases a connection only once its operations are done; the generator's requests and buffers outlive
        // its thread, which waits at its end until the kernel holds nothing.
        if unsafe { ring.submission().push(&entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

/// Provided buffers: the kernel picks a free one when data arrives, so a connection waiting for input holds no
/// buffer of its own. The loop gives each back as soon as its bytes are handed to the session.
pub struct BufRing {
    /// The ring of entries the kernel takes buffers from, page-aligned as it requires.
    entries: *mut BufRingEntry,
    layout: std::alloc::Layout,
    count: u16,
    size: usize,
    tail: u16,
    memory: Vec<u8>,
}

impl BufRing {
    /// Registers `count` (a power of two) buffers of `size` bytes as [`BUFFER_GROUP`] with `ring`.
    pub fn register(ring: &IoUring, count: u16, size: usize) -> io::Result<BufRing> {
        let bytes = usize::from(count) * std::mem::size_of::<BufRingEntry>();
        let layout = std::alloc::Layout::from_size_align(bytes.max(4096), 4096)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the layout has a non-zero size.
        let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if entries.is_null() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        let mut ring_of_buffers = BufRing {
            entries,
            layout,
            count,
            size,
            tail: 0,
            memory: vec![0; usize::from(count) * size],
        };
        // SAFETY: the entries are page-aligned, `count` long, and live as long as the `BufRing`, which the loop
        // drops after the ring.
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                entries as u64,
                count,
                BUFFER_GROUP,
                0,
            )?;
        }
        for bid in 0..count {
            ring_of_buffers.give_back(bid);
        }
        Ok(ring_of_buffers)
    }

    /// The first `len` bytes of buffer `bid`, as the kernel filled them.
    pub fn filled(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.size;
        &self.memory[start..start + len.min(self.size)]
    }

    /// Makes buffer `bid` available to the kernel again.
    pub fn give_back(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (self.count - 1));
        let addr = self.memory.as_ptr() as u64 + (usize::from(bid) * self.size) as u64;
        // SAFETY: `slot` is below `count`; the kernel reads an entry only once the tail covers it.
        unsafe {
            let entry = &mut *self.entries.add(slot);
            entry.set_addr(addr);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail shares the first entry's reserved field; the kernel reads it with acquire ordering.
        unsafe {
            let tail = BufRingEntry::tail(self.entries)
                .cast_mut()
                .cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `register` with this layout.
        unsafe { std::alloc::dealloc(self.entries.cast(), self.layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHO: &str = "--model uring";

    fn fails(errno: i32) -> impl FnOnce() -> io::Result<()> {
        move || Err(io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn the_switch_at_2_refuses_without_trying() {
        let refused = refusal(WHO, Some("2\n"), || panic!("must not try")).unwrap_err();
        assert_eq!(
            refused,
            "--model uring: io_uring is disabled on this machine (/proc/sys/kernel/io_uring_disabled is 2)"
        );
    }

    #[test]
    fn the_switch_at_1_refuses_only_when_the_ring_is_refused() {
        assert_eq!(refusal(WHO, Some("1\n"), || Ok(())), Ok(()));
        let refused = refusal(WHO, Some("1\n"), fails(libc::EPERM)).unwrap_err();
        assert!(
            refused.contains("restricted to the kernel.io_uring_group group"),
            "{refused}"
        );
        assert!(refused.contains("io_uring_disabled is 1"), "{refused}");
    }

    #[test]
    fn other_failures_say_what_is_missing() {
        assert_eq!(refusal(WHO, Some("0"), || Ok(())), Ok(()));
        assert_eq!(refusal(WHO, None, || Ok(())), Ok(()));
        let seccomp = refusal(WHO, Some("0"), fails(libc::EPERM)).unwrap_err();
        assert!(seccomp.contains("seccomp"), "{seccomp}");
        let old = refusal(WHO, None, fails(libc::ENOSYS)).unwrap_err();
        assert!(old.contains("this kernel has no io_uring"), "{old}");
        let no_buf_ring = refusal(WHO, None, fails(libc::EINVAL)).unwrap_err();
        assert!(no_buf_ring.contains("5.19"), "{no_buf_ring}");
        for reason in [seccomp, old, no_buf_ring] {
            assert!(reason.starts_with("--model uring: ") && !reason.contains('\n'));
        }
    }
}
