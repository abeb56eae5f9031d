//! The state file of one stage instance: its keyed entries, each tagged
//! with its key group, so that a checkpoint taken at one parallelism can be
//! restored at another (each new instance keeps the groups it owns).
//!
//! Layout: the magic `PSTATE1\n`, the stage's meta value (length-prefixed
//! postcard), then entries of `key group (u16 LE), length (u32 LE),
//! postcard of (key, value)`. The manifest holds the file's size and
//! CRC-32.

use crate::{PipelineError, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

const MAGIC: &[u8; 8] = b"PSTATE1\n";

/// Encodes a state file in memory.
#[derive(Debug)]
pub(crate) struct StateWriter {
    pub(crate) bytes: Vec<u8>,
    pub(crate) entries: u64,
}

fn encode_error(e: postcard::Error) -> PipelineError {
    super::error(format!("cannot encode state: {e}"))
}

impl StateWriter {
    pub(crate) fn new<M: Serialize>(meta: &M) -> Result<Self> {
        let mut bytes = MAGIC.to_vec();
        let meta = postcard::to_stdvec(meta).map_err(encode_error)?;
        bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&meta);
        Ok(StateWriter { bytes, entries: 0 })
    }

    /// Appends one entry of key group `group`.
    pub(crate) fn entry<E: Serialize + ?Sized>(&mut self, group: u16, entry: &E) -> Result<()> {
        self.bytes.extend_from_slice(&group.to_le_bytes());
        let at = self.bytes.len();
        self.bytes.extend_from_slice(&[0; 4]);
        let bytes = std::mem::take(&mut self.bytes);
        self.bytes = postcard::to_extend(entry, bytes).map_err(encode_error)?;
        let len = (self.bytes.len() - at - 4) as u32;
        self.bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        self.entries += 1;
        Ok(())
    }
}

/// Reads a state file: its meta value, and its entries of the key groups
/// `keep` accepts.
pub(crate) fn read<M, E>(
    bytes: &[u8],
    what: &str,
    mut keep: impl FnMut(u16) -> bool,
    mut entry: impl FnMut(E),
) -> Result<M>
where
    M: DeserializeOwned,
    E: DeserializeOwned,
{
    let damaged = |why: &str| super::error(format!("the state of {what} cannot be read: {why}"));
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| damaged("not a state file"))?;
    let (meta, mut rest) = split_len(rest).ok_or_else(|| damaged("cut short"))?;
    let meta: M = postcard::from_bytes(meta).map_err(|e| {
        damaged(&format!(
            "{e} (did the stage's state type change since the checkpoint?)"
        ))
    })?;
    while !rest.is_empty() {
        let (group, after) = rest
            .split_at_checked(2)
            .ok_or_else(|| damaged("cut short"))?;
        let group = u16::from_le_bytes([group[0], group[1]]);
        let (body, after) = split_len(after).ok_or_else(|| damaged("cut short"))?;
        if keep(group) {
            let e: E = postcard::from_bytes(body).map_err(|e| {
                damaged(&format!(
                    "{e} (did the stage's key or state type change since the checkpoint?)"
                ))
            })?;
            entry(e);
        }
        rest = after;
    }
    Ok(meta)
}

/// Splits a u32-length-prefixed piece off `bytes`.
fn split_len(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = bytes.split_at_checked(4)?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    rest.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_are_filtered_by_key_group() {
        let mut w = StateWriter::new(&42_i64).unwrap();
        for k in 0..10_u64 {
            w.entry((k % 4) as u16, &(k, format!("v{k}"))).unwrap();
        }
        let mut got = Vec::new();
        let meta: i64 = read(&w.bytes, "t", |g| g == 1, |e: (u64, String)| got.push(e)).unwrap();
        assert_eq!(meta, 42);
        assert_eq!(
            got,
            vec![(1, "v1".into()), (5, "v5".into()), (9, "v9".into())]
        );
        let cut = &w.bytes[..w.bytes.len() - 1];
        let e = read::<i64, (u64, String)>(cut, "stage x", |_| true, |_| ())
            .unwrap_err()
            .to_string();
        assert!(e.contains("the state of stage x cannot be read"), "{e}");
    }
}
