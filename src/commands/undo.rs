//! What must be undone however a command ends: the engine logins and the temporary local names a push made.
//! A command registers each one the moment it exists; dispatch runs whatever is still registered after the command
//! returns, fails, runs out of time (`--timeout`) or is stopped by SIGINT or SIGTERM, so no 12-hour registry token
//! is left in the engine's credential store and no temporary name is left on the image.

use std::sync::Mutex;

use crate::engine::{Engine, LoginRecord};
use crate::log;

enum Pending {
    Logout { engine: Engine, record: LoginRecord },
    RemoveName { engine: Engine, name: String },
}

/// The undo list of one command run.
pub struct UndoList {
    pending: Mutex<Vec<Pending>>,
    github: bool,
}

impl UndoList {
    pub fn new(github: bool) -> UndoList {
        UndoList { pending: Mutex::new(Vec::new()), github }
    }

    /// A login to undo (restoring what the credential store held before).
    pub fn logout_later(&self, engine: &Engine, record: LoginRecord) {
        self.push(Pending::Logout { engine: engine.clone(), record });
    }

    /// A temporary local name (`docker tag`) to remove.
    pub fn remove_name_later(&self, engine: &Engine, name: &str) {
        self.push(Pending::RemoveName { engine: engine.clone(), name: name.to_string() });
    }

    fn push(&self, pending: Pending) {
        if let Ok(mut list) = self.pending.lock() {
            list.push(pending);
        }
    }

    /// Runs everything registered, newest first; a failure is a warning, and the rest still run.
    pub async fn run(&self) {
        let pending = match self.pending.lock() {
            Ok(mut list) => std::mem::take(&mut *list),
            Err(_) => return,
        };
        for item in pending.into_iter().rev() {
            match item {
                Pending::RemoveName { engine, name } => {
                    if let Err(error) = engine.remove_tag(&name).await {
                        log::warn(format!("could not remove the temporary local name {name}: {error:#}"), self.github);
                    }
                }
                Pending::Logout { engine, record } => {
                    let host = record.host().to_string();
                    if let Err(error) = engine.logout(std::slice::from_ref(&record)).await {
                        log::warn(format!("could not remove the registry login to {host}: {error:#}"), self.github);
                    }
                }
            }
        }
    }
}
