//! The hostile files of issue 15, generated in code (never committed): each
//! is small on disk and asks a naive decoder for hundreds of megabytes or
//! seconds. Shared by the API test (`tests/api/hostile.rs`) and the
//! pipeline benchmark (`benches/pipeline.rs`), through `#[path]`.
//!
//! Formats are written by hand where no encoder makes the hostile variant:
//! PNG chunks (PNG spec, <https://www.w3.org/TR/png-3/#5Chunk-layout>),
//! a zlib stream of zeros (RFC 1950/1951 fixed-Huffman block: one literal,
//! then length-258 distance-1 matches, which repeat with a 13-byte period),
//! a baseline TIFF IFD (TIFF 6.0 section 2), a lossless WebP header with
//! single-symbol prefix codes (RFC 9649 section 3.7.2.1.1) and a progressive
//! JPEG (ITU T.81 G.1.2.2: EOBRUN coding) whose 500 AC scans each walk every
//! block.

#![allow(dead_code)]

/// One hostile file: a name for reports, the bytes, and what photosync
/// should answer (a problem code, or `synced`).
pub struct Hostile {
    /// Short description, as in the table.
    pub what: &'static str,
    /// File name with the right extension.
    pub file: &'static str,
    /// The file.
    pub bytes: Vec<u8>,
    /// The code expected in the ledger record (`synced` for a rendered photo).
    pub expect: &'static str,
}

/// The six files of issue 15's table.
pub fn all() -> Vec<Hostile> {
    vec![
        Hostile {
            what: "WebP lossless 10000x10000, single-symbol prefix codes",
            file: "webp.webp",
            bytes: webp_lossless(10_000, 10_000),
            expect: "image-too-large",
        },
        Hostile {
            what: "GIF, logical screen 10000x10000, one 1x1 frame",
            file: "gif.gif",
            bytes: gif_screen(10_000, 10_000),
            expect: "image-too-large",
        },
        Hostile {
            what: "PNG 10000x10000 RGBA 16-bit",
            file: "rgba16.png",
            bytes: png_zeros(10_000, 10_000, 6, 16, None),
            expect: "synced",
        },
        Hostile {
            what: "PNG 200x200 with a 2 GiB iCCP zlib bomb",
            file: "iccp.png",
            bytes: png_zeros(200, 200, 2, 8, Some(1 << 31)),
            expect: "icc-profile-ignored",
        },
        Hostile {
            what: "TIFF 10000x10000 deflate",
            file: "tiff.tif",
            bytes: tiff_deflate(10_000, 10_000),
            expect: "image-too-large",
        },
        Hostile {
            what: "progressive JPEG 10000x10000, 500 EOBRUN scans",
            file: "progressive.jpg",
            bytes: progressive_jpeg(10_000, 10_000, 3, 500),
            expect: "image-too-large",
        },
    ]
}

/// A plausible big lossless headshot export: 40 MP, 8-bit RGB.
pub fn png_40mp() -> Vec<u8> {
    png_zeros(7746, 5164, 2, 8, None)
}

/// Bits, least significant first (deflate, WebP).
#[derive(Default)]
struct LsbBits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl LsbBits {
    fn put(&mut self, value: u64, bits: u32) {
        self.acc |= value << self.n;
        self.n += bits;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, which deflate packs most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.put(u64::from((code >> i) & 1), 1);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A zlib stream that inflates to `n` zero bytes (n >= 259), about 158:1.
pub fn zlib_zeros(n: u64) -> Vec<u8> {
    const LIT0: (u32, u32) = (0x30, 8); // fixed code of literal 0
    const LEN258: (u32, u32) = (0xC5, 8); // fixed code of length symbol 285
    let matched = |w: &mut LsbBits| {
        w.code(LEN258.0, LEN258.1);
        w.code(0, 5); // distance code 0: distance 1
    };
    assert!(n >= 259);
    let mut w = LsbBits::default();
    w.put(1, 1); // BFINAL: one block holds everything
    w.put(1, 2); // BTYPE 01: fixed Huffman
    w.code(LIT0.0, LIT0.1);
    matched(&mut w); // 24 bits so far: byte-aligned
    let mut out = vec![0x78, 0x01];
    out.extend(std::mem::take(&mut w.out));
    // Eight matches from an aligned position are 104 bits: 13 bytes.
    let mut period = LsbBits::default();
    for _ in 0..8 {
        matched(&mut period);
    }
    let period = period.finish();
    let rest = n - 259;
    for _ in 0..rest / 2064 {
        out.extend_from_slice(&period);
    }
    let tail = rest % 2064;
    for _ in 0..tail / 258 {
        matched(&mut w);
    }
    for _ in 0..tail % 258 {
        w.code(LIT0.0, LIT0.1);
    }
    w.code(0, 7); // end of block
    out.extend(w.finish());
    // Adler-32 of n zeros: a stays 1, b adds 1 per byte.
    let b = (n % 65521) as u32;
    out.extend(((b << 16) | 1).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|mut c| {
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            c
        })
        .collect();
    let mut c = !0u32;
    for &b in bytes {
        c = table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend((data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend(crc.to_be_bytes());
}

/// An all-zero PNG (`colour` type 2 RGB or 6 RGBA, `depth` 8 or 16), with
/// an iCCP chunk inflating to `iccp_bomb` zero bytes if asked.
pub fn png_zeros(
    width: u32,
    height: u32,
    colour: u8,
    depth: u8,
    iccp_bomb: Option<u64>,
) -> Vec<u8> {
    let channels = if colour == 6 { 4 } else { 3 };
    let row = 1 + u64::from(width) * channels * u64::from(depth) / 8;
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([depth, colour, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    if let Some(n) = iccp_bomb {
        let mut iccp = b"bomb\0\0".to_vec();
        iccp.extend(zlib_zeros(n));
        png_chunk(&mut out, b"iCCP", &iccp);
    }
    png_chunk(&mut out, b"IDAT", &zlib_zeros(row * u64::from(height)));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A GIF whose logical screen is `width` x `height` with one 1x1 frame.
pub fn gif_screen(width: u16, height: u16) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend(width.to_le_bytes());
    out.extend(height.to_le_bytes());
    out.extend([0x80, 0, 0]); // global colour table of 2 entries
    out.extend([0, 0, 0, 255, 255, 255]);
    out.extend([0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // 1x1 image descriptor
    out.extend([2, 2, 0x44, 0x01, 0]); // LZW min code 2: clear, 0, end
    out.push(0x3B);
    out
}

/// A lossless WebP of `width` x `height` whose five prefix codes each have
/// a single symbol, so every pixel costs zero bits: about 30 bytes.
pub fn webp_lossless(width: u32, height: u32) -> Vec<u8> {
    let mut w = LsbBits::default();
    w.put(0x2F, 8); // VP8L signature
    w.put(u64::from(width - 1), 14);
    w.put(u64::from(height - 1), 14);
    w.put(1, 1); // alpha is used
    w.put(0, 3); // version
    w.put(0, 1); // no transform
    w.put(0, 1); // no colour cache
    w.put(0, 1); // no meta prefix codes
    for _ in 0..5 {
        // Simple code, one symbol, 1-bit symbol value 0.
        w.put(1, 1);
        w.put(0, 1);
        w.put(0, 1);
        w.put(0, 1);
    }
    let mut vp8l = w.finish();
    if vp8l.len() % 2 == 1 {
        vp8l.push(0);
    }
    let mut out = b"RIFF".to_vec();
    out.extend((4 + 8 + vp8l.len() as u32).to_le_bytes());
    out.extend(b"WEBPVP8L");
    out.extend((vp8l.len() as u32).to_le_bytes());
    out.extend(vp8l);
    out
}

/// A deflate-compressed RGB8 TIFF of zeros in strips of 100 rows.
pub fn tiff_deflate(width: u32, height: u32) -> Vec<u8> {
    let rows = 100u32;
    let strips = height.div_ceil(rows);
    let strip = zlib_zeros(u64::from(width) * 3 * u64::from(rows));
    let entries: u32 = 10;
    let ifd_end = 8 + 2 + entries * 12 + 4;
    let bps_at = ifd_end;
    let offsets_at = bps_at + 6;
    let counts_at = offsets_at + 4 * strips;
    let data_at = counts_at + 4 * strips;
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend((entries as u16).to_le_bytes());
    let mut entry = |tag: u16, kind: u16, count: u32, value: u32| {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(value.to_le_bytes());
    };
    entry(256, 4, 1, width);
    entry(257, 4, 1, height);
    entry(258, 3, 3, bps_at);
    entry(259, 3, 1, 8); // Adobe deflate
    entry(262, 3, 1, 2); // RGB
    entry(273, 4, strips, offsets_at);
    entry(277, 3, 1, 3);
    entry(278, 4, 1, rows);
    entry(279, 4, strips, counts_at);
    entry(284, 3, 1, 1); // chunky
    out.extend(0u32.to_le_bytes());
    for _ in 0..3 {
        out.extend(8u16.to_le_bytes());
    }
    for i in 0..strips {
        out.extend((data_at + i * strip.len() as u32).to_le_bytes());
    }
    for _ in 0..strips {
        out.extend((strip.len() as u32).to_le_bytes());
    }
    for _ in 0..strips {
        out.extend_from_slice(&strip);
    }
    out
}

/// Bits, most significant first, with 0xFF byte stuffing (JPEG).
#[derive(Default)]
struct JpegBits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl JpegBits {
    fn put(&mut self, value: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                if self.acc == 0xFF {
                    self.out.push(0);
                }
                (self.acc, self.n) = (0, 0);
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
        self.out
    }
}

fn jpeg_segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend([0xFF, marker]);
    out.extend(((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// A progressive JPEG of `components` (1 or 3, 4:4:4) whose DC scan codes
/// every difference as 0 and whose `ac_scans` AC scans (bands 1-63, Ah=Al=0,
/// repeated: libjpeg accepts a repeated first scan without a warning)
/// skip every block with maximal EOB runs. Each scan walks every block.
pub fn progressive_jpeg(width: u16, height: u16, components: u8, ac_scans: u32) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    let mut dqt = vec![0];
    dqt.extend([1u8; 64]);
    jpeg_segment(&mut out, 0xDB, &dqt);
    let mut sof = vec![8];
    sof.extend(height.to_be_bytes());
    sof.extend(width.to_be_bytes());
    sof.push(components);
    for c in 1..=components {
        sof.extend([c, 0x11, 0]);
    }
    jpeg_segment(&mut out, 0xC2, &sof);
    // One 1-bit code per table: DC category 0, AC EOB14 (run 2^14 + 14 bits).
    let mut dht = vec![0x00, 1];
    dht.extend([0u8; 15]);
    dht.push(0);
    dht.push(0x10);
    dht.push(1);
    dht.extend([0u8; 15]);
    dht.push(0xE0);
    jpeg_segment(&mut out, 0xC4, &dht);
    let blocks = u32::from(width).div_ceil(8) * u32::from(height).div_ceil(8);

    let mut sos = vec![components];
    for c in 1..=components {
        sos.extend([c, 0x00]);
    }
    sos.extend([0, 0, 0]);
    jpeg_segment(&mut out, 0xDA, &sos);
    let mut dc = JpegBits::default();
    for _ in 0..blocks * u32::from(components) {
        dc.put(0, 1);
    }
    out.extend(dc.finish());

    for scan in 0..ac_scans {
        let c = (scan % u32::from(components)) as u8 + 1;
        jpeg_segment(&mut out, 0xDA, &[1, c, 0x00, 1, 63, 0]);
        let mut ac = JpegBits::default();
        // Runs of 2^14..2^15-1 blocks, evenly split, cover every block exactly.
        let runs = blocks.div_ceil(32_767);
        assert!(
            blocks / runs >= 1 << 14,
            "the image is too small for EOB14 runs"
        );
        for i in 0..runs {
            let run = blocks / runs + u32::from(i < blocks % runs);
            ac.put(0, 1);
            ac.put(run - (1 << 14), 14);
        }
        out.extend(ac.finish());
    }
    out.extend([0xFF, 0xD9]);
    out
}
