//! What sysd reads at an instance's start, at [`crate::layout::INSTANCE_DATA`]:
//! the one definition of its layout, encoded by the host and decoded by
//! sysd.
//!
//! The area starts with seven little-endian `u32`s — the lengths of the
//! arguments, the environment and the preopened directories' guest names,
//! the most descriptors the instance may hold open, the length of the
//! memory file systems' quotas, how many listening sockets (`--tcplisten`)
//! the executor holds as handles 3, 4, …, and which of stdin, stdout and
//! stderr (bits 0, 1, 2) are terminals — followed by the four runs of
//! NUL-terminated strings (the quotas are decimal byte counts; their
//! mounts' names are the last preopen names).

/// The size of the header: seven `u32`s.
pub const INSTANCE_DATA_HEADER: usize = 28;

/// One instance's start-up data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceData<'a> {
    /// The arguments, each NUL-terminated.
    pub args: &'a [u8],
    /// The environment (`NAME=value`), each NUL-terminated.
    pub env: &'a [u8],
    /// The guest names of the preopened directories, then of the memory
    /// file systems, each NUL-terminated.
    pub preopens: &'a [u8],
    /// The byte quota of each memory file system, as decimal strings, each
    /// NUL-terminated.
    pub tmpfs: &'a [u8],
    /// The most descriptors the instance may hold (0: the table's size).
    pub max_fds: u32,
    /// How many listening sockets (`--tcplisten`) the executor holds as
    /// handles 3, 4, …; they become fds 3, 4, …, before the preopens.
    pub listeners: u32,
    /// Which of stdin, stdout and stderr (bits 0, 1, 2) are terminals: a
    /// terminal is a character device to the module, anything else of
    /// unknown type, as wasmtime reports stdio.
    pub terminals: u32,
}

impl<'a> InstanceData<'a> {
    /// The bytes [`InstanceData::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        INSTANCE_DATA_HEADER + self.runs().iter().map(|run| run.len()).sum::<usize>()
    }

    fn runs(&self) -> [&'a [u8]; 4] {
        [self.args, self.env, self.preopens, self.tmpfs]
    }

    /// Writes the header and the runs to the start of `out`; `None` if
    /// they do not fit or a run is longer than a `u32` says.
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let len = self.encoded_len();
        let out = out.get_mut(..len)?;
        let length = |run: &[u8]| u32::try_from(run.len()).ok();
        let words = [
            length(self.args)?,
            length(self.env)?,
            length(self.preopens)?,
            self.max_fds,
            length(self.tmpfs)?,
            self.listeners,
            self.terminals,
        ];
        let (header, mut rest) = out.split_at_mut(INSTANCE_DATA_HEADER);
        for (slot, word) in header.chunks_exact_mut(4).zip(words) {
            slot.copy_from_slice(&word.to_le_bytes());
        }
        for run in self.runs() {
            let (head, tail) = rest.split_at_mut(run.len());
            head.copy_from_slice(run);
            rest = tail;
        }
        Some(len)
    }

    /// Reads what [`InstanceData::encode`] wrote. Every length is bounded
    /// by `area`: a short or inconsistent area gives short runs, never a
    /// read outside it.
    pub fn decode(area: &'a [u8]) -> Self {
        let word = |i: usize| {
            area.get(4 * i..4 * i + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let mut rest = area.get(INSTANCE_DATA_HEADER..).unwrap_or(&[]);
        let mut take = |len: u32| {
            let len = (len as usize).min(rest.len());
            let (run, tail) = rest.split_at(len);
            rest = tail;
            run
        };
        let args = take(word(0));
        let env = take(word(1));
        let preopens = take(word(2));
        let tmpfs = take(word(4));
        Self {
            args,
            env,
            preopens,
            tmpfs,
            max_fds: word(3),
            listeners: word(5),
            terminals: word(6),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_is_the_same() {
        let data = InstanceData {
            args: b"m.wasm\0a\0",
            env: b"X=1\0",
            preopens: b"/data\0/tmp\0",
            tmpfs: b"1048576\0",
            max_fds: 64,
            listeners: 1,
            terminals: 0b101,
        };
        let mut area = [0xAAu8; 256];
        let len = data.encode(&mut area).expect("fits");
        assert_eq!(len, data.encoded_len());
        assert_eq!(InstanceData::decode(&area[..len]), data);
        // Trailing bytes after the runs are not part of them.
        assert_eq!(InstanceData::decode(&area), data);
        assert_eq!(data.encode(&mut area[..len - 1]), None);
    }

    #[test]
    fn decoding_any_bytes_stays_inside_them() {
        let mut area = [0u8; 64];
        // Lengths far past the area.
        area[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        area[4..8].copy_from_slice(&7u32.to_le_bytes());
        let data = InstanceData::decode(&area);
        assert_eq!(data.args.len(), 64 - INSTANCE_DATA_HEADER);
        assert!(data.env.is_empty() && data.preopens.is_empty() && data.tmpfs.is_empty());
        for short in 0..INSTANCE_DATA_HEADER {
            let data = InstanceData::decode(&area[..short]);
            assert!(data.args.is_empty());
        }
    }
}
