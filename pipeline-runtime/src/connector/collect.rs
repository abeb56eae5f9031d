//! The in-process `collect` sink: gathers records in memory, for tests and
//! for programs that use a pipeline's result directly.

use super::{NoSettings, SinkConnector, SinkCtx};
use crate::ErrorKind;
use crate::operator::Push;
use crate::{PipelineError, Result};
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Shared<T> = Arc<Mutex<Vec<T>>>;

/// The record vectors of a run's `collect` sinks, by sink name.
#[derive(Debug, Clone, Default)]
pub struct Collectors(Arc<Mutex<HashMap<String, Box<dyn Any + Send>>>>);

/// Why collected records could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// No `collect` sink has this name.
    #[error("no `collect` sink is named `{0}`")]
    Unknown(String),
    /// The sink collected another record type.
    #[error("the `collect` sink `{name}` holds other records than `{asked}`")]
    WrongType {
        /// The sink.
        name: String,
        /// The type asked for.
        asked: &'static str,
    },
}

impl Collectors {
    fn register<T: Send + 'static>(&self, name: &str) -> Result<Shared<T>> {
        let shared: Shared<T> = Arc::default();
        let mut map = self.0.lock().map_err(|_| {
            PipelineError::from(ErrorKind::Executor(
                "the collect registry's lock was poisoned".into(),
            ))
        })?;
        map.insert(name.to_owned(), Box::new(shared.clone()));
        Ok(shared)
    }

    /// Takes the records of the sink `name`.
    pub fn take<T: Send + 'static>(&self, name: &str) -> Result<Vec<T>, CollectError> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map
            .get(name)
            .ok_or_else(|| CollectError::Unknown(name.to_owned()))?;
        let shared = entry
            .downcast_ref::<Shared<T>>()
            .ok_or_else(|| CollectError::WrongType {
                name: name.to_owned(),
                asked: std::any::type_name::<T>(),
            })?;
        let mut records = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(std::mem::take(&mut *records))
    }
}

/// Collects records in memory; read them from
/// [`RunOutcome::collected`](crate::exec::RunOutcome::collected) by the
/// sink's name. Order is kept within one instance.
#[derive(Debug, Clone, Copy, Default)]
pub struct Collect;

impl<T: Send + 'static> SinkConnector<T> for Collect {
    type Settings = NoSettings;
    const KIND: &'static str = "collect";
    type Writer = CollectWriter<T>;

    fn writers(self, _s: NoSettings, ctx: &SinkCtx) -> Result<Vec<CollectWriter<T>>> {
        let shared = ctx.collectors.register::<T>(ctx.name())?;
        Ok((0..ctx.parallelism())
            .map(|_| CollectWriter {
                local: Vec::new(),
                shared: shared.clone(),
            })
            .collect())
    }
}

/// One instance of a `collect` sink: buffers a batch, then appends it.
#[derive(Debug)]
pub struct CollectWriter<T> {
    local: Vec<T>,
    shared: Shared<T>,
}

impl<T: Send> Push<T> for CollectWriter<T> {
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        self.local.push(item);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.local.is_empty() {
            let mut shared = self.shared.lock().map_err(|_| {
                PipelineError::from(ErrorKind::Executor(
                    "a collect sink's lock was poisoned".into(),
                ))
            })?;
            shared.append(&mut self.local);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}
