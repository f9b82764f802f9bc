//! SHA-256 of two messages at once.
//!
//! Why: hashing is the largest piece of user-space work per file in a per-item dump (~6% of
//! its CPU), and one message cannot go faster: each pair of SHA-256 rounds waits for the
//! last, so the CPU's SHA unit idles between them. Two independent messages fill those
//! gaps: on this machine (AMD EPYC, SHA-NI) two 1 KiB files hash ~1.55× faster together
//! than one after the other. Workers render small files two at a time and hash them here
//! ([`Sink::write_file_pair`](super::Sink::write_file_pair)).
//!
//! Without the x86 SHA extensions (or off x86-64) both digests come from the `sha2` crate,
//! one after the other. Tests compare every path with `sha2` on random messages.

use sha2::{Digest, Sha256};

/// The SHA-256 digests of `a` and `b`.
pub fn sha256_pair(a: &[u8], b: &[u8]) -> ([u8; 32], [u8; 32]) {
    #[cfg(target_arch = "x86_64")]
    if ni::available() {
        return ni::pair(a, b);
    }
    (Sha256::digest(a).into(), Sha256::digest(b).into())
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

    /// One message's padded tail: its last partial block, `0x80`, zeros and the bit
    /// length, in one or two blocks (FIPS 180-4 §5.1.1).
    struct Tail {
        blocks: [Block; 2],
        n: usize,
    }

    impl Tail {
        fn of(msg: &[u8]) -> (&[Block], Tail) {
            let (full, rest) = msg.as_chunks::<64>();
            let mut bytes = [0u8; 128];
            bytes[..rest.len()].copy_from_slice(rest);
            bytes[rest.len()] = 0x80;
            let n = if rest.len() + 9 > 64 { 2 } else { 1 };
            let bits = (msg.len() as u64).wrapping_mul(8).to_be_bytes();
            bytes[n * 64 - 8..n * 64].copy_from_slice(&bits);
            let (blocks, _) = bytes.as_chunks::<64>();
            let tail = Tail {
                blocks: [blocks[0], blocks[1]],
                n,
            };
            (full, tail)
        }

        fn blocks(&self) -> &[Block] {
            &self.blocks[..self.n]
        }
    }

    /// Both digests: the blocks the two messages have in common hashed together, the
    /// longer one's rest alone. Each message is two runs of blocks (its full blocks, then
    /// the padded tail), so the walk below hands the kernels runs, not single blocks: the
    /// state then stays in registers from one block to the next.
    pub fn pair(a: &[u8], b: &[u8]) -> ([u8; 32], [u8; 32]) {
        let (fa, ta) = Tail::of(a);
        let (fb, tb) = Tail::of(b);
        let (mut sa, mut sb) = (H0, H0);
        let runs_a: [&[Block]; 2] = [fa, ta.blocks()];
        let runs_b: [&[Block]; 2] = [fb, tb.blocks()];
        let (mut ra, mut rb) = (Runs::new(&runs_a), Runs::new(&runs_b));
        loop {
            match (ra.rest(), rb.rest()) {
                (Some(x), Some(y)) => {
                    let n = x.len().min(y.len());
                    // SAFETY: `available()` said the CPU has these instructions.
                    unsafe { compress2(&mut sa, &x[..n], &mut sb, &y[..n]) };
                    ra.advance(n);
                    rb.advance(n);
                }
                (Some(x), None) => {
                    unsafe { compress1(&mut sa, x) };
                    ra.advance(x.len());
                }
                (None, Some(y)) => {
                    unsafe { compress1(&mut sb, y) };
                    rb.advance(y.len());
                }
                (None, None) => break,
            }
        }
        (bytes(&sa), bytes(&sb))
    }

    /// A walk over a message's runs of blocks.
    struct Runs<'a> {
        runs: &'a [&'a [Block]; 2],
        run: usize,
        at: usize,
    }

    impl<'a> Runs<'a> {
        fn new(runs: &'a [&'a [Block]; 2]) -> Self {
            Runs {
                runs,
                run: 0,
                at: 0,
            }
        }

        /// The blocks left in the current run (the next non-empty one), `None` at the end.
        fn rest(&mut self) -> Option<&'a [Block]> {
            while let Some(r) = self.runs.get(self.run) {
                if self.at < r.len() {
                    return Some(&r[self.at..]);
                }
                self.run += 1;
                self.at = 0;
            }
            None
        }

        fn advance(&mut self, n: usize) {
            self.at += n;
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
    fn pairs_of_every_length_class_match_sha2() {
        let mut rnd = xorshift(0x2545_f491_4f6c_dd1d);
        // Every tail length around the one- and two-block padding edges, both orders,
        // and random lengths up to a few blocks.
        let mut lens: Vec<(usize, usize)> = Vec::new();
        for a in 0..=130 {
            lens.push((a, 119 - a.min(119)));
            lens.push((a, a));
        }
        for _ in 0..2_000 {
            lens.push(((rnd() % 700) as usize, (rnd() % 700) as usize));
        }
        // Long runs of blocks on one side or both.
        lens.extend([
            (100_000, 3_000),
            (5, 70_001),
            (65_536, 65_536),
            (1 << 20, 1 << 19),
        ]);
        for (la, lb) in lens {
            let a: Vec<u8> = (0..la).map(|_| rnd() as u8).collect();
            let b: Vec<u8> = (0..lb).map(|_| rnd() as u8).collect();
            let want = (Sha256::digest(&a).into(), Sha256::digest(&b).into());
            assert_eq!(sha256_pair(&a, &b), want, "lengths {la}, {lb}");
            // The SHA-NI code itself, on every machine that has it.
            #[cfg(target_arch = "x86_64")]
            if ni::available() {
                assert_eq!(ni::pair(&a, &b), want, "SHA-NI, lengths {la}, {lb}");
            }
        }
    }

    #[test]
    fn known_digests() {
        let hex = |d: [u8; 32]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let (e, abc) = sha256_pair(b"", b"abc");
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
