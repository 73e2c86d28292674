//! The layer schedule: distinct blocks and the order they come in.

use serde::{Deserialize, Serialize};

use super::{Block, MAX_LAYERS};
use crate::error::{CoreError, Result};

/// The decoder stack as a run-length pattern over its distinct blocks.
///
/// `runs` lists `(block index, layers)` in order: Gemma 3's five local layers then
/// one global is `[(0, 5), (1, 1), (0, 5), …]`. A uniform stack is one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Each distinct block once.
    pub blocks: Vec<Block>,
    /// `(index into blocks, consecutive layers)` from the first layer to the last.
    pub runs: Vec<Run>,
}

/// Consecutive layers that use one block: `(index into blocks, layers)`.
pub type Run = (usize, u64);

impl Schedule {
    /// `layers` identical blocks.
    pub fn uniform(block: Block, layers: u64) -> Schedule {
        Schedule {
            blocks: vec![block],
            runs: vec![(0, layers)],
        }
    }

    /// A schedule from one block per layer, in order (identical blocks are stored once).
    pub fn from_layers(layers: impl IntoIterator<Item = Block>) -> Schedule {
        let mut s = Schedule {
            blocks: Vec::new(),
            runs: Vec::new(),
        };
        for block in layers {
            s.push(block, 1);
        }
        s
    }

    /// Append `layers` layers of `block`.
    pub fn push(&mut self, block: Block, layers: u64) {
        if layers == 0 {
            return;
        }
        let index = match self.blocks.iter().position(|b| *b == block) {
            Some(i) => i,
            None => {
                self.blocks.push(block);
                self.blocks.len() - 1
            }
        };
        match self.runs.last_mut() {
            Some((last, n)) if *last == index => *n = n.saturating_add(layers),
            _ => self.runs.push((index, layers)),
        }
    }

    /// `L`: layers in the stack (saturating; [`Schedule::check`] bounds it).
    pub fn len(&self) -> u64 {
        self.runs
            .iter()
            .fold(0u64, |acc, &(_, n)| acc.saturating_add(n))
    }

    /// Whether the stack has no layers.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each distinct block with the layers that use it.
    pub fn counted(&self) -> impl Iterator<Item = (&Block, u64)> + '_ {
        self.blocks.iter().enumerate().map(|(i, b)| {
            let n = self
                .runs
                .iter()
                .filter(|&&(j, _)| j == i)
                .fold(0u64, |acc, &(_, n)| acc.saturating_add(n));
            (b, n)
        })
    }

    /// The index of each distinct block with the number of its layers among layers
    /// `first..first + count` (a pipeline stage); blocks with none are left out.
    /// Lazy, in block order, without allocating (it runs for every priced layout).
    pub fn counted_in(&self, first: u64, count: u64) -> CountedIn<'_> {
        CountedIn {
            schedule: self,
            first,
            end: first.saturating_add(count),
        }
    }

    /// The block of layer `i`.
    pub fn at(&self, i: u64) -> Option<&Block> {
        let mut start = 0u64;
        for &(b, n) in &self.runs {
            start = start.saturating_add(n);
            if i < start {
                return self.blocks.get(b);
            }
        }
        None
    }

    /// Every layer's block index, in order (bounded by [`Schedule::check`]).
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.runs
            .iter()
            .flat_map(|&(b, n)| std::iter::repeat_n(b, n as usize))
    }

    /// Apply `f` to every distinct block.
    pub fn map_blocks(&mut self, f: impl FnMut(&mut Block)) {
        self.blocks.iter_mut().for_each(f);
    }

    /// Check the schedule: between 1 and [`MAX_LAYERS`] layers, every run naming an
    /// existing block.
    ///
    /// # Errors
    /// [`CoreError::Invalid`] naming `num_hidden_layers` or `layers.runs`.
    pub fn check(&self) -> Result<()> {
        let layers = self.len();
        if layers == 0 || layers > MAX_LAYERS {
            return Err(CoreError::Invalid {
                field: "num_hidden_layers",
                value: layers.to_string(),
                expected: format!(
                    "at least 1 and at most {MAX_LAYERS} (real models have a few hundred at most)"
                ),
            });
        }
        if let Some(&(b, _)) = self.runs.iter().find(|&&(b, _)| b >= self.blocks.len()) {
            return Err(CoreError::Invalid {
                field: "layers.runs",
                value: b.to_string(),
                expected: format!("a block index below {}", self.blocks.len()),
            });
        }
        Ok(())
    }
}

/// The blocks of a range of layers with their counts ([`Schedule::counted_in`]).
#[derive(Debug, Clone, Copy)]
pub struct CountedIn<'a> {
    schedule: &'a Schedule,
    first: u64,
    end: u64,
}

impl<'a> IntoIterator for CountedIn<'a> {
    type Item = (usize, u64);
    type IntoIter = CountedInIter<'a>;

    fn into_iter(self) -> CountedInIter<'a> {
        CountedInIter {
            range: self,
            next: 0,
        }
    }
}

/// The iterator of [`CountedIn`].
#[derive(Debug, Clone)]
pub struct CountedInIter<'a> {
    range: CountedIn<'a>,
    next: usize,
}

impl Iterator for CountedInIter<'_> {
    type Item = (usize, u64);

    fn next(&mut self) -> Option<(usize, u64)> {
        let CountedIn {
            schedule,
            first,
            end,
        } = self.range;
        while self.next < schedule.blocks.len() {
            let b = self.next;
            self.next += 1;
            let mut start = 0u64;
            let mut here = 0u64;
            for &(i, n) in &schedule.runs {
                let stop = start.saturating_add(n);
                if i == b {
                    here = here.saturating_add(stop.min(end).saturating_sub(start.max(first)));
                }
                start = stop;
            }
            if here > 0 {
                return Some((b, here));
            }
        }
        None
    }
}
