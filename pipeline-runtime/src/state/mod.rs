//! Keyed state: the per-key values that stateful stages keep.
//!
//! Stateful stages (`reduce`, `aggregate`, joins, `process_keyed`) go
//! through the [`KeyedState`] trait rather than a map of their own, so that
//! the backend (memory today; RocksDB later) is chosen in one place, and
//! save their entries in checkpoints by key group. User stages declare
//! their state with [`ValueState`], [`MapState`] and [`ListState`] fields
//! of an `#[operator]` struct ([`KeyedProcess`]).

mod memory;
mod process;

pub use memory::MemoryState;
pub use process::{
    KeyedProcess, KeyedProcessOp, KeyedProcessStage, ListState, MapState, OperatorState,
    ProcessContext, StateField, Timer, ValueState,
};

/// Values of type `V` kept per key `K` by one instance of a stage.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::state::{KeyedState, MemoryState};
/// let mut s: MemoryState<&str, u64> = MemoryState::default();
/// *s.get_or_insert_with("a", || 0) += 2;
/// assert_eq!(s.get(&"a"), Some(&2));
/// assert_eq!(s.len(), 1);
/// ```
pub trait KeyedState<K, V> {
    /// The value of `key`, created by `init` if absent.
    fn get_or_insert_with(&mut self, key: K, init: impl FnOnce() -> V) -> &mut V;
    /// The value of `key`, created by `init` if absent; the key is cloned
    /// only when it is inserted.
    fn get_or_insert_with_ref(&mut self, key: &K, init: impl FnOnce() -> V) -> &mut V
    where
        K: Clone;
    /// The value of `key`, if any.
    fn get(&self, key: &K) -> Option<&V>;
    /// The value of `key` to change, if any.
    fn get_mut(&mut self, key: &K) -> Option<&mut V>;
    /// Removes `key`, returning its value.
    fn remove(&mut self, key: &K) -> Option<V>;
    /// How many keys have a value.
    fn len(&self) -> usize;
    /// Whether no key has a value.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
