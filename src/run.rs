//! What one command runs with, apart from what it is set to do: the Django bridge, the pool of
//! workers with deep stacks, and one async runtime, made when something first needs the
//! network. `lib.rs` makes one `Run` per command; each stage takes its slice of the settings
//! and the `Run`. The settings themselves stay data: they hold no process, thread or socket.

use std::sync::{Arc, OnceLock};

use crate::django::Bridge;
use crate::django::BridgeUse;
use crate::error::{Error, Result};

/// The stack each worker gets. Parsers and minifiers recurse once per level of nesting, and
/// legal inputs nest thousands deep (a long `"a" + "b" + …` chain, generated array literals);
/// the memory is only reserved, and used only as deep as an input really goes.
const STACK_SIZE: usize = 1 << 30;

/// Connections a publish keeps busy at once are spread over this many threads.
const ASYNC_THREADS: usize = 4;

pub struct Run {
    bridge: Option<Arc<Bridge>>,
    pool: OnceLock<std::result::Result<rayon::ThreadPool, String>>,
    runtime: OnceLock<std::result::Result<tokio::runtime::Runtime, String>>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("bridge", &self.bridge).finish()
    }
}

impl Run {
    /// A run with the project's bridge (`None` outside a Django project or without Python).
    pub fn new(bridge: Option<Bridge>) -> Run {
        Run {
            bridge: bridge.map(Arc::new),
            pool: OnceLock::new(),
            runtime: OnceLock::new(),
        }
    }

    /// A run without Django: for tools and tests that build from stapler's own settings.
    pub fn without_django() -> Run {
        Run::new(None)
    }

    /// The Django bridge, in a Django project.
    pub fn bridge(&self) -> Option<&Arc<Bridge>> {
        self.bridge.as_ref()
    }

    /// What the bridge cost so far.
    pub fn bridge_use(&self) -> Option<BridgeUse> {
        self.bridge.as_deref().map(BridgeUse::of)
    }

    /// Runs `work` on the pool of workers with deep stacks (the caller's thread would run parts
    /// of it otherwise, with its small stack).
    pub fn install<T: Send>(&self, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        let pool = self.pool.get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .stack_size(STACK_SIZE)
                .thread_name(|index| format!("stapler-{index}"))
                .build()
                .map_err(|error| error.to_string())
        });
        match pool {
            Ok(pool) => pool.install(work),
            Err(error) => Err(Error::Runtime(std::io::Error::other(error.clone()))),
        }
    }

    /// The async runtime network work runs on, made when first asked for.
    pub fn runtime(&self) -> Result<&tokio::runtime::Runtime> {
        let runtime = self.runtime.get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .worker_threads(ASYNC_THREADS)
                .build()
                .map_err(|error| error.to_string())
        });
        runtime
            .as_ref()
            .map_err(|error| Error::Runtime(std::io::Error::other(error.clone())))
    }
}
