//! Per-thread OS settings for hashing threads: scheduling priority and CPU pinning (Linux).
//! Failure to apply either is reported, never fatal: a miner that cannot lower its priority
//! still mines. The only unsafe code of the engine lives here, each call documented.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// As the agent itself.
    Normal,
    /// nice 19: the host stays responsive, mining takes what is left (cpuminer's default).
    #[default]
    Low,
    /// SCHED_IDLE: runs only when nothing else wants the CPU.
    Idle,
}

impl std::str::FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Priority, String> {
        match s {
            "normal" => Ok(Priority::Normal),
            "low" => Ok(Priority::Low),
            "idle" => Ok(Priority::Idle),
            _ => Err(format!("priority {s:?}: expected normal, low or idle")),
        }
    }
}

/// Applies `p` to the calling thread.
pub fn set_priority(p: Priority) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        match p {
            Priority::Normal => Ok(()),
            Priority::Low => {
                // SAFETY: plain syscall; on Linux `who = 0` with PRIO_PROCESS names the calling
                // thread (threads have their own nice value).
                let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
                if rc == 0 {
                    Ok(())
                } else {
                    Err(format!("setpriority: {}", std::io::Error::last_os_error()))
                }
            }
            Priority::Idle => {
                // Zeroed rather than a struct literal: musl's sched_param has more fields than
                // glibc's. SAFETY: sched_param is plain integers, for which all-zero is valid.
                let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
                param.sched_priority = 0;
                // SAFETY: `param` outlives the call; pid 0 is the calling thread.
                let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
                if rc == 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "sched_setscheduler(SCHED_IDLE): {}",
                        std::io::Error::last_os_error()
                    ))
                }
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = p;
        Err("thread priority is only supported on Linux".into())
    }
}

/// Lets the calling thread run on any CPU again (undoes [`pin_to_cpu`]).
pub fn unpin() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: as in pin_to_cpu; a set with every bit on is valid, the kernel keeps the CPUs
        // that exist and are allowed to this process.
        let rc = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for cpu in 0..libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut set);
            }
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(format!("unpinning: {}", std::io::Error::last_os_error()))
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(())
    }
}

/// Pins the calling thread to one CPU.
pub fn pin_to_cpu(cpu: usize) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(format!("cpu {cpu} is beyond CPU_SETSIZE"));
        }
        // SAFETY: cpu_set_t is plain data, zeroed is the empty set; CPU_SET is bounds-checked
        // above; pid 0 is the calling thread and the size is the set's own.
        let rc = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(format!(
                "pinning to cpu {cpu}: {}",
                std::io::Error::last_os_error()
            ))
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cpu;
        Err("CPU pinning is only supported on Linux".into())
    }
}
