//! Watching for a secret in other processes: a thread that reads `/proc/<pid>/cmdline` (and optionally `environ`)
//! again and again while something runs, and notes whether it ever saw a "witness" process (for example the
//! `docker login` itself), which proves the scan overlapped the moment that matters. A scan that never saw its
//! witness proves nothing, so the tests assert both.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// Which processes to look at.
#[derive(Clone)]
pub enum Scope {
    /// Every process on the machine.
    All,
    /// The process whose PID is stored here (0 until it starts) and its descendants.
    TreeOf(Arc<AtomicU32>),
}

pub struct ProcScan {
    stop: Arc<AtomicBool>,
    witnessed: Arc<AtomicBool>,
    passes: Arc<AtomicUsize>,
    handle: JoinHandle<Vec<String>>,
}

impl ProcScan {
    /// Starts scanning `scope` for `needle` in argv (and the environment when `environ`); `witness` are the
    /// arguments a process must all have to count as the one the scan must overlap.
    pub fn start(scope: Scope, needle: &str, witness: &'static [&'static str], environ: bool) -> ProcScan {
        let (stop, witnessed, passes) =
            (Arc::<AtomicBool>::default(), Arc::<AtomicBool>::default(), Arc::<AtomicUsize>::default());
        let needle = needle.as_bytes().to_vec();
        let handle = {
            let (stop, witnessed, passes) = (stop.clone(), witnessed.clone(), passes.clone());
            std::thread::spawn(move || {
                let mut hits = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let pids = match &scope {
                        Scope::All => all_pids(),
                        Scope::TreeOf(root) => match root.load(Ordering::SeqCst) {
                            0 => Vec::new(),
                            root => process_tree(root),
                        },
                    };
                    for pid in pids {
                        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                        let env = if environ {
                            std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default()
                        } else {
                            Vec::new()
                        };
                        if contains(&cmdline, &needle) || contains(&env, &needle) {
                            let hit = format!("{pid}: {}", String::from_utf8_lossy(&cmdline).replace('\0', " "));
                            if !hits.contains(&hit) {
                                hits.push(hit);
                            }
                        }
                        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                        if witness.iter().all(|w| args.contains(&w.as_bytes())) {
                            witnessed.store(true, Ordering::SeqCst);
                        }
                    }
                    passes.fetch_add(1, Ordering::SeqCst);
                }
                hits
            })
        };
        ProcScan { stop, witnessed, passes, handle }
    }

    pub fn witnessed(&self) -> bool {
        self.witnessed.load(Ordering::SeqCst)
    }

    /// Stops the scan; returns the processes that showed the needle ("pid: argv") and the number of passes.
    pub fn finish(self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::SeqCst);
        let hits = self.handle.join().expect("scanner thread");
        (hits, self.passes.load(Ordering::SeqCst))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn all_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// Every process whose argv or environment contains `needle`, as "pid: argv" (one look, no thread).
pub fn processes_containing(needle: &[u8]) -> Vec<String> {
    all_pids()
        .into_iter()
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            (contains(&cmdline, needle) || contains(&environ, needle))
                .then(|| format!("{pid}: {}", String::from_utf8_lossy(&cmdline).replace('\0', " ")))
        })
        .collect()
}

/// Descendants of `root` (itself included), from the parent links in `/proc/<pid>/stat`.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for pid in all_pids() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // The command name in parentheses may hold spaces; the fields after its closing paren are fixed.
        let Some(ppid) =
            stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
        else {
            continue;
        };
        parents.push((pid, ppid));
    }
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        tree.extend(parents.iter().filter(|(_, p)| *p == parent).map(|(c, _)| *c));
        index += 1;
    }
    tree
}
