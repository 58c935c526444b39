//! Captcha images: the digits of an answer drawn as a small PNG with jitter, shear and noise,
//! for the surfaces whose documents ask for an image captcha. No image library: a 5x7 bitmap
//! font and a PNG written with stored (uncompressed) deflate blocks.

use base64::Engine;
use rand::Rng;

/// 5x7 glyphs of the digits, one row per byte, bit 4 the leftmost column.
const DIGITS: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

const SCALE: usize = 4;
const CELL: usize = 6 * SCALE;
const MARGIN: usize = 8;
const HEIGHT: usize = 7 * SCALE + 2 * MARGIN;

/// The answer's digits as a grayscale PNG (other characters are skipped).
pub fn png(answer: &str) -> Vec<u8> {
    let digits: Vec<usize> = answer
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| usize::from(b - b'0'))
        .collect();
    let width = 2 * MARGIN + digits.len().max(1) * CELL;
    let mut rng = rand::thread_rng();
    // Light, speckled background.
    let mut pixels: Vec<u8> = (0..width * HEIGHT)
        .map(|_| rng.gen_range(215..=255))
        .collect();
    for (i, &d) in digits.iter().enumerate() {
        let dy: isize = rng.gen_range(-5..=5);
        let dx: isize = rng.gen_range(-2..=2);
        let shear: f32 = rng.gen_range(-0.35..=0.35);
        let ink: u8 = rng.gen_range(0..=70);
        for (row, bits) in DIGITS[d].iter().enumerate() {
            for col in 0..5 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for sy in 0..SCALE {
                    for sx in 0..SCALE {
                        let y = (MARGIN + row * SCALE + sy) as isize + dy;
                        let slant = (shear * (7 * SCALE / 2) as f32 - shear * y as f32) as isize;
                        let x = (MARGIN + i * CELL + col * SCALE + sx) as isize + dx + slant;
                        if (0..width as isize).contains(&x) && (0..HEIGHT as isize).contains(&y) {
                            pixels[y as usize * width + x as usize] = ink;
                        }
                    }
                }
            }
        }
    }
    // A few strike-through lines and dark dots.
    for _ in 0..3 {
        let (y0, y1) = (
            rng.gen_range(0..HEIGHT) as f32,
            rng.gen_range(0..HEIGHT) as f32,
        );
        let shade: u8 = rng.gen_range(60..=140);
        for x in 0..width {
            let y = (y0 + (y1 - y0) * x as f32 / width as f32) as usize;
            pixels[y.min(HEIGHT - 1) * width + x] = shade;
        }
    }
    for _ in 0..width * HEIGHT / 30 {
        let p = rng.gen_range(0..width * HEIGHT);
        pixels[p] = rng.gen_range(0..=160);
    }
    encode_gray(width, HEIGHT, &pixels)
}

/// The PNG as a `data:` URL.
pub fn data_url(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// An 8-bit grayscale PNG of `pixels` (row-major).
fn encode_gray(width: usize, height: usize, pixels: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity((width + 1) * height);
    for row in pixels.chunks(width) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut zlib = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    while let Some(block) = blocks.next() {
        zlib.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8 bits, grayscale, deflate, no filter, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = Crc32::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finish().to_be_bytes());
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65_521;
        b %= 65_521;
    }
    (b << 16) | a
}

struct Crc32(u32);

impl Crc32 {
    fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    fn update(&mut self, data: &[u8]) {
        for &byte in data {
            let mut c = (self.0 ^ u32::from(byte)) & 0xFF;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            self.0 = c ^ (self.0 >> 8);
        }
    }

    fn finish(self) -> u32 {
        self.0 ^ 0xFFFF_FFFF
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_adler_match_known_values() {
        let mut crc = Crc32::new();
        crc.update(b"IEND");
        assert_eq!(crc.finish(), 0xAE42_6082);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn the_png_has_the_right_header_and_size() {
        let png = png("12345");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]) as usize;
        let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]) as usize;
        assert_eq!((width, height), (2 * MARGIN + 5 * CELL, HEIGHT));
        assert!(png.ends_with(&[0xAE, 0x42, 0x60, 0x82]));
        // Two images of one answer differ (jitter and noise).
        assert_ne!(png, super::png("12345"));
    }
}
