//! ChaCha20 (RFC 8439) as sysd's CSPRNG for `random_get`, seeded per
//! instance from the host's `getrandom`. Written out here because sysd's
//! target has no SIMD and the usual crates assume it.

/// A ChaCha20 keystream used as a random-number generator.
#[derive(Debug, Clone)]
pub struct ChaCha20 {
    key: [u32; 8],
    counter: u64,
    block: [u8; 64],
    used: usize,
}

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

/// One 64-byte block for `key`, block `counter` and `nonce`.
pub fn block(key: &[u32; 8], counter: u32, nonce: &[u32; 3]) -> [u8; 64] {
    let mut init = [0u32; 16];
    init[..4].copy_from_slice(&[0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574]);
    init[4..12].copy_from_slice(key);
    init[12] = counter;
    init[13..].copy_from_slice(nonce);
    let mut s = init;
    for _ in 0..10 {
        quarter(&mut s, 0, 4, 8, 12);
        quarter(&mut s, 1, 5, 9, 13);
        quarter(&mut s, 2, 6, 10, 14);
        quarter(&mut s, 3, 7, 11, 15);
        quarter(&mut s, 0, 5, 10, 15);
        quarter(&mut s, 1, 6, 11, 12);
        quarter(&mut s, 2, 7, 8, 13);
        quarter(&mut s, 3, 4, 9, 14);
    }
    let mut out = [0u8; 64];
    for (i, word) in s.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.wrapping_add(init[i]).to_le_bytes());
    }
    out
}

impl ChaCha20 {
    /// A generator keyed with a 256-bit seed.
    pub fn new(seed: [u64; 4]) -> Self {
        let mut key = [0u32; 8];
        for (i, word) in seed.iter().enumerate() {
            key[2 * i] = *word as u32;
            key[2 * i + 1] = (*word >> 32) as u32;
        }
        Self {
            key,
            counter: 0,
            block: [0; 64],
            used: 64,
        }
    }

    pub fn fill(&mut self, mut out: &mut [u8]) {
        while !out.is_empty() {
            if self.used == 64 {
                // A 64-bit block counter: the low half in the counter word,
                // the high half in the nonce.
                let nonce = [(self.counter >> 32) as u32, 0, 0];
                self.block = block(&self.key, self.counter as u32, &nonce);
                self.counter += 1;
                self.used = 0;
            }
            let n = out.len().min(64 - self.used);
            out[..n].copy_from_slice(&self.block[self.used..self.used + n]);
            self.used += n;
            out = &mut out[n..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8439, section 2.3.2.
    #[test]
    fn matches_the_rfc_block_test_vector() {
        let key: [u32; 8] = core::array::from_fn(|i| {
            u32::from_le_bytes([
                4 * i as u8,
                4 * i as u8 + 1,
                4 * i as u8 + 2,
                4 * i as u8 + 3,
            ])
        });
        let nonce = [0x0900_0000, 0x4a00_0000, 0];
        let out = block(&key, 1, &nonce);
        assert_eq!(&out[..8], &[0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15]);
        assert_eq!(
            &out[16..24],
            &[0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03]
        );
        assert_eq!(
            &out[56..],
            &[0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e]
        );
    }

    #[test]
    fn different_seeds_give_different_streams_and_fill_spans_blocks() {
        let (mut a, mut b) = (ChaCha20::new([1, 2, 3, 4]), ChaCha20::new([1, 2, 3, 5]));
        let (mut x, mut y) = ([0u8; 100], [0u8; 100]);
        a.fill(&mut x);
        b.fill(&mut y);
        assert_ne!(x, y);
        let mut again = ChaCha20::new([1, 2, 3, 4]);
        let (mut first, mut rest) = ([0u8; 30], [0u8; 70]);
        again.fill(&mut first);
        again.fill(&mut rest);
        assert_eq!(&x[..30], &first);
        assert_eq!(&x[30..], &rest);
    }
}
