//! Bounded channels between tasks: batches of records plus control messages.
//!
//! A task's chain ends in one of the senders here when the graph continues in
//! another task (a keyed exchange, a fan-out, a union); the next task starts
//! from the channel's receiving end. Channels are bounded, so a slow consumer slows
//! its producers down (backpressure) instead of buffering without limit.

use super::origin::{Fill, Origin, RunEnv};
use crate::ErrorKind;
use crate::operator::Push;
use crate::{PipelineError, Result, Timestamp};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};

/// Records per batch sent across a channel.
pub const BATCH: usize = 1024;
/// Batches a channel holds before its senders block.
pub const CAPACITY: usize = 16;
/// The longest a task waits for input before its chain is flushed anyway,
/// so stages that act on processing time run while no input comes.
pub const TICK: std::time::Duration = std::time::Duration::from_millis(100);

/// What travels across a channel: batches of records and control messages.
/// Every message names its sender's slot, so a receiver can hold back one
/// sender's messages while it aligns checkpoint barriers.
#[derive(Debug)]
pub enum Message<T> {
    /// A batch of records.
    Batch {
        /// The sender's slot at this channel's receiving end.
        from: usize,
        /// The records.
        records: Vec<T>,
    },
    /// Checkpoint barrier `epoch`: everything the sender sent before it
    /// belongs to the checkpoint, everything after to the next.
    Barrier {
        /// The sender's slot at this channel's receiving end.
        from: usize,
        /// The checkpoint.
        epoch: u64,
    },
    /// Event time of the sender in slot `from` has reached `at`.
    Watermark {
        /// The sender's slot at this channel's receiving end.
        from: usize,
        /// The watermark.
        at: Timestamp,
    },
    /// The sender in slot `from` is idle: leave it out of the minimum
    /// until its next watermark.
    Idle {
        /// The sender's slot at this channel's receiving end.
        from: usize,
    },
    /// One upstream instance has no more input.
    End {
        /// The sender's slot at this channel's receiving end.
        from: usize,
    },
}

impl<T> Message<T> {
    /// The sender's slot.
    fn from(&self) -> usize {
        match self {
            Message::Batch { from, .. }
            | Message::Barrier { from, .. }
            | Message::Watermark { from, .. }
            | Message::Idle { from }
            | Message::End { from } => *from,
        }
    }
}

/// A fresh bounded channel.
pub(crate) fn channel<T>() -> (Sender<Message<T>>, Receiver<Message<T>>) {
    crossbeam_channel::bounded(CAPACITY)
}

fn send<T>(tx: &Sender<Message<T>>, msg: Message<T>) -> Result<()> {
    tx.send(msg)
        .map_err(|_| PipelineError::from(ErrorKind::Cancelled))
}

/// Receives batches until every upstream instance has sent [`Message::End`];
/// its watermark is the minimum over the senders' (an ended or idle sender
/// does not hold it back, as Flink's watermark status works). When every
/// open sender is idle, so is this input.
///
/// Checkpoint barriers are aligned: once a sender's barrier arrives, what
/// that sender sends next is held back until every sender still open has
/// sent the same barrier; then the barrier is reported
/// ([`Fill::Barrier`]) and the held messages are read next.
#[derive(Debug)]
pub(crate) struct ChannelOrigin<T> {
    rx: Receiver<Message<T>>,
    open_senders: usize,
    /// Each sender's watermark; `Timestamp::MAX` once it has ended.
    watermarks: Vec<Timestamp>,
    /// Which senders are idle.
    idle: Vec<bool>,
    /// Whether this input was reported idle (every open sender is).
    reported_idle: bool,
    /// The combined watermark last passed on.
    current: Timestamp,
    /// The barrier being aligned, and which senders have sent it.
    aligning: Option<u64>,
    arrived: Vec<bool>,
    /// Messages of senders whose barrier came, held until alignment ends.
    held: VecDeque<Message<T>>,
    /// Held messages to read before the channel.
    replay: VecDeque<Message<T>>,
    /// Control results to report, in order, before reading more.
    queued: VecDeque<Fill>,
    /// The last barrier aligned.
    last_aligned: u64,
}

impl<T> ChannelOrigin<T> {
    pub(crate) fn new(rx: Receiver<Message<T>>, senders: usize) -> Self {
        ChannelOrigin {
            rx,
            open_senders: senders,
            watermarks: vec![Timestamp::MIN; senders],
            idle: vec![false; senders],
            reported_idle: false,
            current: Timestamp::MIN,
            aligning: None,
            arrived: vec![false; senders],
            held: VecDeque::new(),
            replay: VecDeque::new(),
            queued: VecDeque::new(),
            last_aligned: 0,
        }
    }

    /// Records sender `from`'s watermark; returns the combined one if it
    /// advanced.
    fn advance(&mut self, from: usize, at: Timestamp) -> Option<Timestamp> {
        if let Some(w) = self.watermarks.get_mut(from) {
            *w = (*w).max(at);
        }
        if let Some(idle) = self.idle.get_mut(from) {
            *idle = false;
        }
        let was_idle = std::mem::take(&mut self.reported_idle);
        // Back from idleness: say so downstream even without an advance.
        self.combined()
            .or_else(|| (was_idle && at != Timestamp::MAX).then_some(self.current))
    }

    /// The minimum over the active senders' watermarks, if it advanced.
    /// Only senders that ended do not make the end of time while others
    /// are idle: those may still send.
    fn combined(&mut self) -> Option<Timestamp> {
        let min = self
            .watermarks
            .iter()
            .zip(&self.idle)
            .filter(|(_, idle)| !**idle)
            .map(|(w, _)| *w)
            .min()?;
        if min == Timestamp::MAX && self.idle.iter().any(|idle| *idle) {
            return None;
        }
        (min > self.current).then(|| {
            self.current = min;
            min
        })
    }

    /// Marks sender `from` idle: the others' watermarks may now advance
    /// without it, or, when every open sender is idle, this input is.
    fn go_idle(&mut self, from: usize) -> Option<Fill> {
        if let Some(idle) = self.idle.get_mut(from) {
            *idle = true;
        }
        match self.combined() {
            Some(w) => Some(Fill::Watermark(w)),
            None => self.idle_if_all_are(),
        }
    }

    /// `Idle`, once, when every sender that has not ended is idle.
    fn idle_if_all_are(&mut self) -> Option<Fill> {
        let all_idle = self
            .watermarks
            .iter()
            .zip(&self.idle)
            .all(|(w, idle)| *idle || *w == Timestamp::MAX);
        if all_idle && !self.reported_idle {
            self.reported_idle = true;
            return Some(Fill::Idle);
        }
        None
    }

    /// Ends the alignment if every open sender has sent the barrier.
    fn check_aligned(&mut self) {
        let Some(epoch) = self.aligning else {
            return;
        };
        let done = self
            .watermarks
            .iter()
            .zip(&self.arrived)
            .all(|(w, arrived)| *arrived || *w == Timestamp::MAX);
        if done {
            self.last_aligned = epoch;
            self.aligning = None;
            self.arrived.iter_mut().for_each(|a| *a = false);
            self.replay.extend(self.held.drain(..));
            self.queued.push_back(Fill::Barrier(epoch));
        }
    }

    /// Takes one message: records go into `buf`, control results are
    /// queued, messages of an aligned sender are held.
    fn receive(&mut self, message: Message<T>, buf: &mut Vec<T>) {
        if self.aligning.is_some() && self.arrived.get(message.from()) == Some(&true) {
            self.held.push_back(message);
            return;
        }
        let fill = match message {
            Message::Batch { mut records, .. } => {
                if buf.is_empty() {
                    *buf = records;
                } else {
                    buf.append(&mut records);
                }
                None
            }
            // A barrier after its sender's end, or of a checkpoint
            // aligned already, is stale: nothing waits for it.
            Message::Barrier { from, epoch }
                if epoch <= self.last_aligned
                    || self.watermarks.get(from) == Some(&Timestamp::MAX) =>
            {
                None
            }
            Message::Barrier { from, epoch } => {
                if let Some(a) = self.arrived.get_mut(from) {
                    *a = true;
                }
                self.aligning = Some(epoch);
                self.check_aligned();
                None
            }
            Message::Watermark { from, at } => self.advance(from, at).map(Fill::Watermark),
            Message::Idle { from } => self.go_idle(from),
            Message::End { from } => {
                self.open_senders = self.open_senders.saturating_sub(1);
                if self.open_senders == 0 {
                    if let Some(w) = self.watermarks.get_mut(from) {
                        *w = Timestamp::MAX;
                    }
                    self.check_aligned();
                    Some(Fill::End)
                } else {
                    let fill = match self.advance(from, Timestamp::MAX) {
                        Some(w) => Some(Fill::Watermark(w)),
                        None => self.idle_if_all_are(),
                    };
                    if let Some(fill) = fill {
                        self.queued.push_back(fill);
                    }
                    // An ended sender no longer holds an alignment back.
                    self.check_aligned();
                    None
                }
            }
        };
        if let Some(fill) = fill {
            self.queued.push_back(fill);
        }
    }
}

impl<T: Send> Origin<T> for ChannelOrigin<T> {
    fn open(&mut self, _env: &RunEnv) -> Result<()> {
        Ok(())
    }

    fn is_source(&self) -> bool {
        false
    }

    /// Appends batches that are already waiting, up to a full batch: under
    /// load, small batches (from upstream flushes) merge again; when idle,
    /// nothing waits for more input. Stops at a control result, which it
    /// reports.
    fn fill(&mut self, buf: &mut Vec<T>) -> Result<Fill> {
        let deadline = std::time::Instant::now() + TICK;
        loop {
            if let Some(fill) = self.queued.pop_front() {
                return Ok(fill);
            }
            if self.open_senders == 0 && self.replay.is_empty() {
                return Ok(Fill::End);
            }
            if buf.len() >= BATCH {
                return Ok(Fill::More);
            }
            let message = match self.replay.pop_front() {
                Some(m) => m,
                None if buf.is_empty() => match self.rx.recv_deadline(deadline) {
                    Ok(m) => m,
                    // Nothing came: an empty batch lets the chain see the
                    // clock.
                    Err(RecvTimeoutError::Timeout) => return Ok(Fill::More),
                    // Every sender is gone without sending `End`: upstream
                    // failed.
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(PipelineError::from(ErrorKind::Cancelled));
                    }
                },
                None => match self.rx.try_recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(Fill::More),
                },
            };
            self.receive(message, buf);
        }
    }
}

/// The key group of `key`: keys hash into a fixed number of groups (the
/// maximum parallelism), which are the unit keyed state is split and
/// rescaled by.
#[inline]
pub fn key_group<K: Hash + ?Sized>(key: &K) -> u16 {
    let hash = rustc_hash::FxBuildHasher.hash_one(key);
    (hash % MAX_PARALLELISM as u64) as u16
}

/// The instance of `parallelism` that owns `key`: keys hash into key groups
/// (a fixed number, the maximum parallelism), and key groups are split into
/// contiguous ranges, one per instance, as Flink does. Fixing the number of
/// key groups lets keyed state be rescaled later.
#[inline]
pub fn instance_for_key<K: Hash + ?Sized>(key: &K, parallelism: usize) -> usize {
    usize::from(key_group(key)) * parallelism / MAX_PARALLELISM
}

/// Number of key groups: the largest parallelism keyed state can be spread
/// over.
pub const MAX_PARALLELISM: usize = 128;

/// Sends `(key, record)` pairs to the instance that owns the key.
#[derive(Debug)]
pub(crate) struct HashSender<K, T> {
    targets: Vec<Sender<Message<(K, T)>>>,
    bufs: Vec<Vec<(K, T)>>,
    /// This sender's slot at every target.
    from: usize,
}

impl<K, T> HashSender<K, T> {
    pub(crate) fn new(targets: Vec<Sender<Message<(K, T)>>>, from: usize) -> Self {
        let bufs = targets.iter().map(|_| Vec::with_capacity(BATCH)).collect();
        HashSender {
            targets,
            bufs,
            from,
        }
    }
}

impl<K: Hash, T> Push<(K, T)> for HashSender<K, T> {
    #[inline]
    fn push(&mut self, item: (K, T)) -> Result<()> {
        let i = instance_for_key(&item.0, self.targets.len());
        let buf = &mut self.bufs[i];
        buf.push(item);
        if buf.len() >= BATCH {
            let full = std::mem::replace(buf, Vec::with_capacity(BATCH));
            send(
                &self.targets[i],
                Message::Batch {
                    from: self.from,
                    records: full,
                },
            )?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        for (buf, tx) in self.bufs.iter_mut().zip(&self.targets) {
            if !buf.is_empty() {
                let part = std::mem::replace(buf, Vec::with_capacity(BATCH));
                send(
                    tx,
                    Message::Batch {
                        from: self.from,
                        records: part,
                    },
                )?;
            }
        }
        Ok(())
    }

    fn watermark(&mut self, at: Timestamp) -> Result<()> {
        // Records sent before the watermark must arrive before it.
        self.flush()?;
        for tx in &self.targets {
            send(
                tx,
                Message::Watermark {
                    from: self.from,
                    at,
                },
            )?;
        }
        Ok(())
    }

    fn idle(&mut self) -> Result<()> {
        self.flush()?;
        for tx in &self.targets {
            send(tx, Message::Idle { from: self.from })?;
        }
        Ok(())
    }

    fn snapshot(&mut self, snapshot: &mut crate::checkpoint::Snapshot<'_>) -> Result<()> {
        self.flush()?;
        if let Some(epoch) = snapshot.epoch() {
            for tx in &self.targets {
                send(
                    tx,
                    Message::Barrier {
                        from: self.from,
                        epoch,
                    },
                )?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()?;
        for tx in &self.targets {
            send(tx, Message::End { from: self.from })?;
        }
        Ok(())
    }
}

/// How a [`Buffered`] sender delivers: to one channel, or a copy to each of
/// several (fan-out).
pub(crate) trait Deliver<T> {
    /// Sends a full or flushed batch from slot `from`.
    fn batch(&mut self, from: usize, batch: Vec<T>) -> Result<()>;
    /// Sends a control message to every target.
    fn control(&mut self, message: impl Fn() -> Message<T>) -> Result<()>;
}

/// One target channel.
#[derive(Debug)]
pub(crate) struct One<T> {
    target: Sender<Message<T>>,
}

impl<T> Deliver<T> for One<T> {
    fn batch(&mut self, from: usize, records: Vec<T>) -> Result<()> {
        send(&self.target, Message::Batch { from, records })
    }

    fn control(&mut self, message: impl Fn() -> Message<T>) -> Result<()> {
        send(&self.target, message())
    }
}

/// Several consumers' channels, each with this sender alone in slot 0.
#[derive(Debug)]
pub(crate) struct Copies<T> {
    targets: Vec<Sender<Message<T>>>,
}

impl<T: Clone> Deliver<T> for Copies<T> {
    fn batch(&mut self, from: usize, records: Vec<T>) -> Result<()> {
        if let Some((last, rest)) = self.targets.split_last() {
            for tx in rest {
                send(
                    tx,
                    Message::Batch {
                        from,
                        records: records.clone(),
                    },
                )?;
            }
            send(last, Message::Batch { from, records })?;
        }
        Ok(())
    }

    fn control(&mut self, message: impl Fn() -> Message<T>) -> Result<()> {
        for tx in &self.targets {
            send(tx, message())?;
        }
        Ok(())
    }
}

/// Buffers records into batches and hands them to `D`; control messages
/// follow the records buffered before them.
#[derive(Debug)]
pub(crate) struct Buffered<T, D> {
    deliver: D,
    buf: Vec<T>,
    /// This sender's slot at its targets (in control messages).
    from: usize,
}

/// Sends every record to one downstream instance.
pub(crate) type ForwardSender<T> = Buffered<T, One<T>>;

/// Sends a copy of every record to each of several consumers (fan-out).
pub(crate) type BroadcastSender<T> = Buffered<T, Copies<T>>;

impl<T> ForwardSender<T> {
    pub(crate) fn new(target: Sender<Message<T>>, from: usize) -> Self {
        Buffered {
            deliver: One { target },
            buf: Vec::with_capacity(BATCH),
            from,
        }
    }
}

impl<T> BroadcastSender<T> {
    pub(crate) fn new(targets: Vec<Sender<Message<T>>>) -> Self {
        Buffered {
            deliver: Copies { targets },
            buf: Vec::with_capacity(BATCH),
            from: 0,
        }
    }
}

impl<T, D: Deliver<T>> Buffered<T, D> {
    fn send_buf(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH));
        self.deliver.batch(self.from, batch)
    }
}

impl<T, D: Deliver<T>> Push<T> for Buffered<T, D> {
    #[inline]
    fn push(&mut self, item: T) -> Result<()> {
        self.buf.push(item);
        if self.buf.len() >= BATCH {
            self.send_buf()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.send_buf()
    }

    fn watermark(&mut self, at: Timestamp) -> Result<()> {
        self.send_buf()?;
        let from = self.from;
        self.deliver.control(|| Message::Watermark { from, at })
    }

    fn idle(&mut self) -> Result<()> {
        self.send_buf()?;
        let from = self.from;
        self.deliver.control(|| Message::Idle { from })
    }

    fn snapshot(&mut self, snapshot: &mut crate::checkpoint::Snapshot<'_>) -> Result<()> {
        self.send_buf()?;
        let from = self.from;
        match snapshot.epoch() {
            Some(epoch) => self.deliver.control(|| Message::Barrier { from, epoch }),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<()> {
        self.send_buf()?;
        let from = self.from;
        self.deliver.control(|| Message::End { from })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spread_over_all_instances_and_stay_put() {
        let mut seen = [0usize; 4];
        for k in 0..10_000u64 {
            let i = instance_for_key(&k, 4);
            assert_eq!(i, instance_for_key(&k, 4));
            seen[i] += 1;
        }
        assert!(seen.iter().all(|&n| n > 1_500), "{seen:?}");
        assert_eq!(instance_for_key(&"x", 1), 0);
    }

    #[test]
    fn hash_sender_batches_and_ends_every_target() {
        let (tx0, rx0) = channel::<(u64, u64)>();
        let (tx1, rx1) = channel::<(u64, u64)>();
        let mut s = HashSender::new(vec![tx0, tx1], 0);
        for k in 0..100 {
            s.push((k, k)).unwrap();
        }
        s.finish().unwrap();
        let env = RunEnv::for_tests();
        let mut total = 0;
        for rx in [rx0, rx1] {
            let mut o = ChannelOrigin::new(rx, 1);
            o.open(&env).unwrap();
            let mut buf = Vec::new();
            loop {
                let fill = o.fill(&mut buf).unwrap();
                total += buf.drain(..).count();
                if fill == Fill::End {
                    break;
                }
            }
        }
        assert_eq!(total, 100);
    }

    #[test]
    fn the_watermark_is_the_minimum_over_senders_and_ended_ones_stop_counting() {
        let (tx, rx) = channel::<(u64, u64)>();
        let mut a = HashSender::new(vec![tx.clone()], 0);
        let mut b = HashSender::new(vec![tx], 1);
        let mut o = ChannelOrigin::new(rx, 2);
        let mut buf = Vec::new();
        let ts = Timestamp::from_millis;
        a.watermark(ts(10)).unwrap();
        // Sender 1 has not said anything yet: nothing advances.
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::More);
        b.watermark(ts(5)).unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(5)));
        b.push((1, 1)).unwrap();
        b.watermark(ts(20)).unwrap();
        // The record arrives before the watermark it precedes.
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(10)));
        assert_eq!(std::mem::take(&mut buf), vec![(1, 1)]);
        a.finish().unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(20)));
        b.finish().unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::End);
    }

    /// Two forward senders into one channel, and its receiving end.
    fn two_senders() -> (ForwardSender<u64>, ForwardSender<u64>, ChannelOrigin<u64>) {
        let (tx, rx) = channel::<u64>();
        let a = ForwardSender::new(tx.clone(), 0);
        let b = ForwardSender::new(tx, 1);
        (a, b, ChannelOrigin::new(rx, 2))
    }

    #[test]
    fn an_idle_sender_does_not_hold_the_watermark_back_until_it_speaks_again() {
        let (mut a, mut b, mut o) = two_senders();
        let mut buf = Vec::new();
        let ts = Timestamp::from_millis;
        a.watermark(ts(10)).unwrap();
        b.watermark(ts(5)).unwrap();
        // A message that changes nothing is not reported.
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(5)));
        b.idle().unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(10)));
        // Back from idle, behind the others: it holds later advances back
        // again, but the combined watermark never goes back.
        b.watermark(ts(7)).unwrap();
        a.watermark(ts(30)).unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::More);
        b.watermark(ts(40)).unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(30)));
        // Both idle: the input is idle, reported once.
        a.idle().unwrap();
        b.idle().unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(40)));
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Idle);
        // With nothing waiting, a fill returns after a tick, empty.
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::More);
        assert!(buf.is_empty());
    }

    #[test]
    fn an_ended_sender_does_not_end_time_for_an_idle_one() {
        let (mut a, mut b, mut o) = two_senders();
        let mut buf = Vec::new();
        let ts = Timestamp::from_millis;
        a.watermark(ts(5)).unwrap();
        b.watermark(ts(5)).unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(5)));
        a.idle().unwrap();
        b.finish().unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Idle);
        // Its records still count; its watermark moves time on again.
        a.watermark(ts(9)).unwrap();
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Watermark(ts(9)));
    }

    #[test]
    fn barriers_are_aligned_and_what_follows_a_barrier_waits_for_the_others() {
        let (tx, rx) = channel::<u64>();
        let send = |m: Message<u64>| tx.send(m).unwrap();
        let mut o = ChannelOrigin::new(rx, 2);
        let mut buf = Vec::new();
        send(Message::Batch {
            from: 0,
            records: vec![1],
        });
        send(Message::Barrier { from: 0, epoch: 1 });
        // After its barrier, sender 0's records belong to the next
        // checkpoint: held back.
        send(Message::Batch {
            from: 0,
            records: vec![2],
        });
        send(Message::Batch {
            from: 1,
            records: vec![10],
        });
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::More);
        assert_eq!(std::mem::take(&mut buf), vec![1, 10]);
        send(Message::Barrier { from: 1, epoch: 1 });
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Barrier(1));
        assert!(buf.is_empty());
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::More);
        assert_eq!(std::mem::take(&mut buf), vec![2]);
        // A sender that ends no longer holds an alignment back.
        send(Message::Barrier { from: 1, epoch: 2 });
        send(Message::Batch {
            from: 1,
            records: vec![11],
        });
        send(Message::Batch {
            from: 0,
            records: vec![3],
        });
        send(Message::End { from: 0 });
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::Barrier(2));
        assert_eq!(std::mem::take(&mut buf), vec![3]);
        assert_eq!(o.fill(&mut buf).unwrap(), Fill::More);
        assert_eq!(std::mem::take(&mut buf), vec![11]);
    }

    #[test]
    fn a_vanished_upstream_is_reported_as_cancelled() {
        let (tx, rx) = channel::<u64>();
        drop(tx);
        let mut o = ChannelOrigin::new(rx, 1);
        let mut buf = Vec::new();
        assert!(o.fill(&mut buf).is_err_and(|e| e.is_cancelled()));
    }
}
