//! SHA-256 of two messages at once.
//!
//! Why: hashing is the largest piece of user-space work per file in a per-item dump (~6% of
//! its CPU), and one message cannot go faster: each pair of SHA-256 rounds waits for the
//! last, so the CPU's SHA unit idles between them. Two independent messages fill those
//! gaps: on this machine (AMD EPYC, SHA-NI) two 1 KiB files hash ~1.6× faster together
//! than one after the other. Workers render runs of small files and hash them here, two
//! lanes at a time ([`Sink::write_files`](super::Sink::write_files)).
//!
//! Without the x86 SHA extensions (or off x86-64) the digests come from the `sha2` crate,
//! one after the other. Tests compare every path with `sha2` on random messages.

use sha2::{Digest, Sha256};

/// The SHA-256 digest of each message, in order.
pub fn sha256_many(msgs: &[&[u8]]) -> Vec<[u8; 32]> {
    #[cfg(target_arch = "x86_64")]
    if ni::available() {
        return ni::many(msgs);
    }
    msgs.iter().map(|m| Sha256::digest(m).into()).collect()
}

#[cfg(target_arch = "x86_64")]
mod ni {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_loadu_si128, _mm_set_epi64x,
        _mm_setzero_si128, _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32,
        _mm_shuffle_epi32, _mm_shuffle_epi8, _mm_storeu_si128,
    };

    /// The round constants (FIPS 180-4 §4.2.2).
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// The initial hash value (FIPS 180-4 §5.3.3).
    const H0: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];

    type Block = [u8; 64];

    /// Whether this CPU has the instructions used here (checked once by `std`, cached).
    pub fn available() -> bool {
        std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("sse4.1")
            && std::is_x86_feature_detected!("ssse3")
    }

    /// Every digest, two messages at a time: each of two lanes hashes one message, and a
    /// lane whose message ends takes the next one, so both lanes stay busy however the
    /// lengths differ (pairing messages one to one left the longer one's rest to a single
    /// lane: 1.06× instead of ~1.2× on the kernels bench's file sizes). The kernels are
    /// handed runs of blocks, so a state stays in registers from one block to the next.
    pub fn many(msgs: &[&[u8]]) -> Vec<[u8; 32]> {
        let mut out = vec![[0u8; 32]; msgs.len()];
        let mut next = msgs.iter().enumerate();
        let mut lanes = [Lane::default(), Lane::default()];
        let mut live = [false; 2];
        let mut states = [H0; 2];
        for (lane, live) in lanes.iter_mut().zip(&mut live) {
            if let Some((i, m)) = next.next() {
                lane.load(i, m);
                *live = true;
            }
        }
        loop {
            let [s0, s1] = &mut states;
            let n = match live {
                [true, true] => {
                    let (x, y) = (lanes[0].rest(), lanes[1].rest());
                    let n = x.len().min(y.len());
                    // SAFETY: `available()` said the CPU has these instructions.
                    unsafe { compress2(s0, &x[..n], s1, &y[..n]) };
                    [n, n]
                }
                // One lane left means no message is waiting: it finishes alone.
                [true, false] => {
                    let x = lanes[0].rest();
                    // SAFETY: as above.
                    unsafe { compress1(s0, x) };
                    [x.len(), 0]
                }
                [false, true] => {
                    let y = lanes[1].rest();
                    // SAFETY: as above.
                    unsafe { compress1(s1, y) };
                    [0, y.len()]
                }
                [false, false] => break,
            };
            for l in 0..2 {
                let lane = &mut lanes[l];
                if !live[l] {
                    continue;
                }
                lane.advance(n[l]);
                if lane.rest().is_empty() {
                    if let Some(o) = out.get_mut(lane.msg) {
                        *o = bytes(&states[l]);
                    }
                    states[l] = H0;
                    match next.next() {
                        Some((i, m)) => lane.load(i, m),
                        None => live[l] = false,
                    }
                }
            }
        }
        out
    }

    /// One message being hashed in a lane: its full blocks, then its padded tail (its
    /// last partial block, `0x80`, zeros and the bit length: FIPS 180-4 §5.1.1). The tail
    /// is built when the full blocks are done, not when the message is loaded: its bytes
    /// are then in the cache (the end of a message read first was a cache miss that cost
    /// a fifth of the bench's time).
    struct Lane<'a> {
        msg: usize,
        full: &'a [Block],
        /// The bytes after the last full block.
        partial: &'a [u8],
        /// The message's length.
        len: usize,
        tail: [Block; 2],
        /// Blocks of `tail` built (0 until the full blocks are done).
        tail_blocks: usize,
        /// Blocks already hashed.
        at: usize,
    }

    impl Default for Lane<'_> {
        fn default() -> Self {
            Lane {
                msg: 0,
                full: &[],
                partial: &[],
                len: 0,
                tail: [[0; 64]; 2],
                tail_blocks: 0,
                at: 0,
            }
        }
    }

    impl<'a> Lane<'a> {
        fn load(&mut self, msg: usize, bytes: &'a [u8]) {
            let (full, partial) = bytes.as_chunks::<64>();
            self.msg = msg;
            self.full = full;
            self.partial = partial;
            self.len = bytes.len();
            self.tail_blocks = 0;
            self.at = 0;
            if full.is_empty() {
                self.build_tail();
            }
        }

        fn build_tail(&mut self) {
            let rest = self.partial;
            let tail = self.tail.as_flattened_mut();
            tail.fill(0);
            tail[..rest.len()].copy_from_slice(rest);
            tail[rest.len()] = 0x80;
            let n = if rest.len() + 9 > 64 { 2 } else { 1 };
            let bits = (self.len as u64).wrapping_mul(8).to_be_bytes();
            tail[n * 64 - 8..n * 64].copy_from_slice(&bits);
            self.tail_blocks = n;
        }

        /// `n` more blocks hashed.
        fn advance(&mut self, n: usize) {
            self.at += n;
            if self.at == self.full.len() && self.tail_blocks == 0 {
                self.build_tail();
            }
        }

        /// The blocks of the current run not hashed yet (empty once all are).
        fn rest(&self) -> &[Block] {
            match self.full.get(self.at..) {
                Some(r) if !r.is_empty() => r,
                _ => {
                    let t = &self.tail[..self.tail_blocks];
                    t.get(self.at - self.full.len()..).unwrap_or_default()
                }
            }
        }
    }

    fn bytes(s: &[u32; 8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(s) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// The state as the SHA instructions hold it: words A, B, E, F in one register and
    /// C, D, G, H in the other.
    #[derive(Clone, Copy)]
    struct State {
        abef: __m128i,
        cdgh: __m128i,
    }

    #[inline(always)]
    unsafe fn load(s: &[u32; 8]) -> State {
        let dcba = _mm_loadu_si128(s.as_ptr().cast());
        let hgfe = _mm_loadu_si128(s.as_ptr().add(4).cast());
        let cdab = _mm_shuffle_epi32(dcba, 0xB1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
        State {
            abef: _mm_alignr_epi8(cdab, efgh, 8),
            cdgh: _mm_blend_epi16(efgh, cdab, 0xF0),
        }
    }

    #[inline(always)]
    unsafe fn store(st: State, s: &mut [u32; 8]) {
        let feba = _mm_shuffle_epi32(st.abef, 0x1B);
        let dchg = _mm_shuffle_epi32(st.cdgh, 0xB1);
        _mm_storeu_si128(s.as_mut_ptr().cast(), _mm_blend_epi16(feba, dchg, 0xF0));
        _mm_storeu_si128(s.as_mut_ptr().add(4).cast(), _mm_alignr_epi8(dchg, feba, 8));
    }

    /// The block's 64 schedule words, four per register.
    #[inline(always)]
    unsafe fn schedule(block: &Block) -> [__m128i; 16] {
        // Each 32-bit word is big-endian in the message.
        let swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        let mut w = [_mm_setzero_si128(); 16];
        for (i, chunk) in block.chunks_exact(16).enumerate() {
            w[i] = _mm_shuffle_epi8(_mm_loadu_si128(chunk.as_ptr().cast()), swap);
        }
        for g in 4..16 {
            let s0 = _mm_sha256msg1_epu32(w[g - 4], w[g - 3]);
            let t = _mm_add_epi32(s0, _mm_alignr_epi8(w[g - 1], w[g - 2], 4));
            w[g] = _mm_sha256msg2_epu32(t, w[g - 1]);
        }
        w
    }

    /// Rounds 4g..4g+4 with schedule words `w`.
    #[inline(always)]
    unsafe fn rounds(st: &mut State, w: __m128i, g: usize) {
        let msg = _mm_add_epi32(w, _mm_loadu_si128(K.as_ptr().add(4 * g).cast()));
        // Two rounds leave the new A, B, E, F where C, D, G, H were; the old A, B, E, F
        // are then the new C, D, G, H.
        st.cdgh = _mm_sha256rnds2_epu32(st.cdgh, st.abef, msg);
        st.abef = _mm_sha256rnds2_epu32(st.abef, st.cdgh, _mm_shuffle_epi32(msg, 0x0E));
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn compress1(s: &mut [u32; 8], blocks: &[Block]) {
        let mut st = load(s);
        for block in blocks {
            let w = schedule(block);
            let start = st;
            for (g, w) in w.into_iter().enumerate() {
                rounds(&mut st, w, g);
            }
            st.abef = _mm_add_epi32(st.abef, start.abef);
            st.cdgh = _mm_add_epi32(st.cdgh, start.cdgh);
        }
        store(st, s);
    }

    /// Blocks of two messages (as many of each), their rounds interleaved.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    unsafe fn compress2(sa: &mut [u32; 8], a: &[Block], sb: &mut [u32; 8], b: &[Block]) {
        let (mut x, mut y) = (load(sa), load(sb));
        for (ba, bb) in a.iter().zip(b) {
            let (wa, wb) = (schedule(ba), schedule(bb));
            let (x0, y0) = (x, y);
            for g in 0..16 {
                rounds(&mut x, wa[g], g);
                rounds(&mut y, wb[g], g);
            }
            x.abef = _mm_add_epi32(x.abef, x0.abef);
            x.cdgh = _mm_add_epi32(x.cdgh, x0.cdgh);
            y.abef = _mm_add_epi32(y.abef, y0.abef);
            y.cdgh = _mm_add_epi32(y.cdgh, y0.cdgh);
        }
        store(x, sa);
        store(y, sb);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn every_length_class_in_any_mix_matches_sha2() {
        let mut rnd = xorshift(0x2545_f491_4f6c_dd1d);
        // Every tail length around the one- and two-block padding edges, lengths up to a
        // few blocks, and long runs of blocks, in lists whose neighbours differ in length
        // (so lanes end and refill at every offset against each other).
        let mut lens: Vec<usize> = (0..=130).collect();
        lens.extend((0..2_000).map(|_| (rnd() % 700) as usize));
        lens.extend([100_000, 3_000, 5, 70_001, 65_536, 65_536, 1 << 20, 1 << 19]);
        let msgs: Vec<Vec<u8>> = lens
            .iter()
            .map(|&n| (0..n).map(|_| rnd() as u8).collect())
            .collect();
        let want: Vec<[u8; 32]> = msgs.iter().map(|m| Sha256::digest(m).into()).collect();
        for group in [1usize, 2, 3, 7, 64, msgs.len()] {
            for (chunk, want) in msgs.chunks(group).zip(want.chunks(group)) {
                let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
                assert_eq!(sha256_many(&refs), want, "groups of {group}");
                // The SHA-NI code itself, on every machine that has it.
                #[cfg(target_arch = "x86_64")]
                if ni::available() {
                    assert_eq!(ni::many(&refs), want, "SHA-NI, groups of {group}");
                }
            }
        }
        assert!(sha256_many(&[]).is_empty());
    }

    #[test]
    fn known_digests() {
        let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let [e, abc] = sha256_many(&[b"", b"abc"])[..] else {
            panic!("two digests")
        };
        assert_eq!(
            hex(e),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(abc),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
