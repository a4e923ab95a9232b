//! Segmentation masks as PNG: class ids from index images (palette or
//! grayscale, the value is the class) or from RGB(A) images through a
//! colour map, as Ground Truth writes them. Also the encoders for
//! consolidated masks (indexed PNGs whose palette is the colour map) and
//! confidence maps.

use serde_json::Value;

/// Ground Truth's name for unlabelled pixels: class 0 of every
/// `internal-color-map`.
pub const BACKGROUND: &str = "BACKGROUND";
/// Ground Truth's colour for unlabelled pixels: white.
pub const BACKGROUND_COLOUR: [u8; 3] = [0xff, 0xff, 0xff];

/// Class names and their colours; the index is the class id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColourMap {
    /// `(name, RGB colour)` per class, by class id; at most 256, colours
    /// distinct.
    pub classes: Vec<(String, [u8; 3])>,
}

/// `#rrggbb` (or `rrggbb`) as bytes.
pub fn parse_hex(text: &str) -> Result<[u8; 3], String> {
    let hex = text.strip_prefix('#').unwrap_or(text);
    let bad = || format!("colour {text:?} is not of the form #rrggbb");
    if hex.len() != 6 || !hex.is_ascii() {
        return Err(bad());
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
    Ok([byte(0)?, byte(2)?, byte(4)?])
}

/// `colour` as `#rrggbb`, lower case.
pub fn hex(colour: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", colour[0], colour[1], colour[2])
}

impl ColourMap {
    /// From a worker's `labelMappings` (`{"<class>": {"color": "#rrggbb"}}`):
    /// background first, then the classes in the order given.
    pub fn from_label_mappings(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(
                "labelMappings must be an object of {\"<class>\": {\"color\": \"#rrggbb\"}}".into(),
            );
        };
        let mut classes = vec![(BACKGROUND.to_string(), BACKGROUND_COLOUR)];
        for (name, entry) in map {
            let colour = entry
                .get("color")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("labelMappings {name:?} has no \"color\" string"))?;
            classes.push((name.clone(), parse_hex(colour)?));
        }
        Self::checked(classes)
    }

    /// From an `internal-color-map` (`{"<index>": {"class-name", "hex-color"}}`).
    pub fn from_internal(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err("internal-color-map must be an object of {\"<index>\": {\"class-name\", \"hex-color\"}}".into());
        };
        let mut entries = Vec::with_capacity(map.len());
        for (index, entry) in map {
            let index: usize = index
                .parse()
                .map_err(|_| format!("internal-color-map key {index:?} is not a class index"))?;
            let name = entry
                .get("class-name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("internal-color-map {index} has no \"class-name\""))?;
            let colour = entry
                .get("hex-color")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("internal-color-map {index} has no \"hex-color\""))?;
            entries.push((index, name.to_string(), parse_hex(colour)?));
        }
        entries.sort_by_key(|e| e.0);
        if entries.iter().enumerate().any(|(i, e)| e.0 != i) {
            return Err("internal-color-map indices must run 0, 1, 2, ... without gaps".into());
        }
        Self::checked(entries.into_iter().map(|(_, n, c)| (n, c)).collect())
    }

    fn checked(classes: Vec<(String, [u8; 3])>) -> Result<Self, String> {
        if classes.len() > 256 {
            return Err(format!(
                "{} classes; at most 256 are accepted",
                classes.len()
            ));
        }
        for (i, (name, colour)) in classes.iter().enumerate() {
            if let Some((other, _)) = classes[..i].iter().find(|(_, c)| c == colour) {
                return Err(format!(
                    "classes {other:?} and {name:?} share the colour {}",
                    hex(*colour)
                ));
            }
        }
        Ok(ColourMap { classes })
    }

    /// The class names, by class id.
    pub fn names(&self) -> Vec<String> {
        self.classes.iter().map(|(n, _)| n.clone()).collect()
    }

    fn class_of(&self, rgb: [u8; 3]) -> Option<u8> {
        self.classes
            .iter()
            .position(|(_, c)| *c == rgb)
            .map(|i| i as u8)
    }
}

/// A decoded mask: class ids, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedMask {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Class id per pixel, row-major, `width · height` of them.
    pub pixels: Vec<u8>,
}

/// Decodes a PNG mask to class ids. Index images (grayscale, or palette
/// without a colour map) give their values; RGB(A) images and palette
/// images with a colour map give the class of each colour, and fully
/// transparent pixels are background (class 0). Refuses images of more
/// than `max_pixels` pixels before decoding them.
pub fn decode_mask(
    bytes: &[u8],
    colours: Option<&ColourMap>,
    max_pixels: u64,
) -> Result<DecodedMask, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("not a readable PNG: {e}"))?;
    let (width, height) = {
        let info = reader.info();
        (info.width, info.height)
    };
    let n = width as u64 * height as u64;
    if n > max_pixels {
        return Err(format!(
            "the mask is {width}×{height} = {n} pixels, over the limit of {max_pixels} (raise it with `max_pixels`)"
        ));
    }
    let mut buffer = vec![0u8; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buffer)
        .map_err(|e| format!("the PNG's image data is damaged or cut short: {e}"))?;
    let (colour_type, depth, line) = (frame.color_type, frame.bit_depth, frame.line_size);
    let palette = reader.info().palette.as_ref().map(|p| p.to_vec());
    let transparency = reader.info().trns.as_ref().map(|t| t.to_vec());
    let bits = depth as usize;
    // 8-bit index images, the common case, are their own class ids.
    let plain_index = bits == 8
        && (colour_type == png::ColorType::Grayscale
            || (colour_type == png::ColorType::Indexed && colours.is_none()));
    if plain_index {
        let mut pixels = Vec::with_capacity(n as usize);
        for y in 0..height as usize {
            pixels.extend_from_slice(&buffer[y * line..y * line + width as usize]);
        }
        check_indices(&pixels, width, colours)?;
        return Ok(DecodedMask {
            width,
            height,
            pixels,
        });
    }
    let mut pixels = Vec::with_capacity(n as usize);
    for y in 0..height as usize {
        let row = &buffer[y * line..(y + 1) * line];
        for x in 0..width as usize {
            let class = match colour_type {
                png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha => {
                    let channels = if colour_type == png::ColorType::Grayscale {
                        1
                    } else {
                        2
                    };
                    index_value(row, x * channels, bits)?
                }
                png::ColorType::Indexed => {
                    let index = index_value(row, x, bits)?;
                    match colours {
                        None => index,
                        Some(map) => {
                            let palette = palette
                                .as_deref()
                                .ok_or("a palette PNG without a palette")?;
                            let at = index as usize * 3;
                            let rgb: [u8; 3] = palette
                                .get(at..at + 3)
                                .ok_or_else(|| {
                                    format!("palette index {index} is outside the palette")
                                })?
                                .try_into()
                                .expect("3 bytes");
                            let clear = transparency
                                .as_deref()
                                .and_then(|t| t.get(index as usize))
                                .is_some_and(|&a| a == 0);
                            colour_class(map, rgb, clear, x, y)?
                        }
                    }
                }
                png::ColorType::Rgb | png::ColorType::Rgba => {
                    let map = colours.ok_or(
                        "an RGB mask needs a colour map (labelMappings or internal-color-map) to turn colours into classes",
                    )?;
                    let channels = if colour_type == png::ColorType::Rgb {
                        3
                    } else {
                        4
                    };
                    let step = bits / 8; // 8 or 16 bits: the high byte counts
                    let at = x * channels * step;
                    let rgb = [row[at], row[at + step], row[at + 2 * step]];
                    let clear = channels == 4 && row[at + 3 * step] == 0;
                    colour_class(map, rgb, clear, x, y)?
                }
            };
            pixels.push(class);
        }
    }
    check_indices(&pixels, width, colours)?;
    Ok(DecodedMask {
        width,
        height,
        pixels,
    })
}

/// Refuses a class index beyond the mask's colour map: every value read
/// from a file is checked before anything indexes with it.
fn check_indices(pixels: &[u8], width: u32, colours: Option<&ColourMap>) -> Result<(), String> {
    let Some(map) = colours else {
        return Ok(());
    };
    let k = map.classes.len();
    match pixels.iter().position(|&c| c as usize >= k) {
        None => Ok(()),
        Some(at) => Err(format!(
            "pixel ({}, {}) holds class index {}, but the colour map names {k} classes",
            at % width.max(1) as usize,
            at / width.max(1) as usize,
            pixels[at]
        )),
    }
}

/// The `x`-th sample of a row of `bits`-bit samples, as a class id.
fn index_value(row: &[u8], x: usize, bits: usize) -> Result<u8, String> {
    Ok(match bits {
        8 => row[x],
        16 => {
            let v = u16::from_be_bytes([row[2 * x], row[2 * x + 1]]);
            u8::try_from(v).map_err(|_| {
                format!("pixel value {v} is not a class id: at most 256 classes are accepted")
            })?
        }
        _ => {
            let per_byte = 8 / bits;
            let byte = row[x / per_byte];
            let shift = 8 - bits * (x % per_byte + 1);
            (byte >> shift) & ((1u8 << bits) - 1)
        }
    })
}

fn colour_class(
    map: &ColourMap,
    rgb: [u8; 3],
    clear: bool,
    x: usize,
    y: usize,
) -> Result<u8, String> {
    if clear {
        return Ok(0);
    }
    map.class_of(rgb).ok_or_else(|| {
        format!(
            "pixel ({x}, {y}) has the colour {}, which is not in the colour map",
            hex(rgb)
        )
    })
}

/// Encodes class ids as an RGB PNG in the map's colours, or as an 8-bit
/// grayscale index image when there is no map.
pub fn encode_mask(
    width: u32,
    height: u32,
    pixels: &[u8],
    colours: Option<&ColourMap>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_depth(png::BitDepth::Eight);
        let data: Vec<u8> = match colours {
            Some(map) => {
                encoder.set_color(png::ColorType::Rgb);
                pixels
                    .iter()
                    .flat_map(|&c| map.classes[c as usize].1)
                    .collect()
            }
            None => {
                encoder.set_color(png::ColorType::Grayscale);
                pixels.to_vec()
            }
        };
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(&data).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Encodes class ids as an 8-bit indexed PNG whose palette (`PLTE`) holds
/// `colours`' colour of each class: a viewer shows the classes in their
/// colours, and a tool reading the pixel values gets the class ids.
pub fn encode_indexed_mask(
    width: u32,
    height: u32,
    pixels: &[u8],
    colours: &ColourMap,
) -> Result<Vec<u8>, String> {
    let k = colours.classes.len();
    if let Some(&c) = pixels.iter().find(|&&c| c as usize >= k) {
        return Err(format!(
            "class id {c} has no colour: the colour map has {k} classes"
        ));
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(
            colours
                .classes
                .iter()
                .flat_map(|(_, c)| *c)
                .collect::<Vec<u8>>(),
        );
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer.write_image_data(pixels).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// matplotlib's `tab10`, then the lighter halves of `tab20`'s pairs.
const TABLEAU: [[u8; 3]; 20] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
    [0xae, 0xc7, 0xe8],
    [0xff, 0xbb, 0x78],
    [0x98, 0xdf, 0x8a],
    [0xff, 0x98, 0x96],
    [0xc5, 0xb0, 0xd5],
    [0xc4, 0x9c, 0x94],
    [0xf7, 0xb6, 0xd2],
    [0xc7, 0xc7, 0xc7],
    [0xdb, 0xdb, 0x8d],
    [0x9e, 0xda, 0xe5],
];

/// Colour `i` of the Pascal VOC colour map: the bits of `i` spread over
/// the high bits of red, green and blue (256 distinct colours).
fn voc_colour(i: u8) -> [u8; 3] {
    let mut rgb = [0u8; 3];
    let mut c = i;
    for j in 0..8 {
        for (channel, value) in rgb.iter_mut().enumerate() {
            *value |= ((c >> channel) & 1) << (7 - j);
        }
        c >>= 3;
    }
    rgb
}

/// Distinct colours for `k` (at most 256) classes of masks that came
/// without a colour map: black for class 0 (the background of most index
/// masks), then `tab10` and `tab20`'s lighter colours, then the Pascal VOC
/// colour map's colours not yet taken.
pub fn default_colours(k: usize) -> Vec<[u8; 3]> {
    let mut colours = vec![[0, 0, 0]];
    let candidates = TABLEAU.into_iter().chain((1..=255).map(voc_colour));
    for colour in candidates {
        if colours.len() >= k {
            break;
        }
        if !colours.contains(&colour) {
            colours.push(colour);
        }
    }
    colours.truncate(k);
    colours
}

/// Encodes values in [0, 1] as an 8-bit grayscale PNG (0 → 0, 1 → 255).
pub fn encode_confidence(width: u32, height: u32, confidence: &[f32]) -> Result<Vec<u8>, String> {
    let bytes: Vec<u8> = confidence
        .iter()
        .map(|&c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    encode_mask(width, height, &bytes, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_masks_round_trip_and_rgb_needs_a_map() {
        let pixels = vec![0, 1, 2, 1, 0, 2];
        let png = encode_mask(3, 2, &pixels, None).unwrap();
        let back = decode_mask(&png, None, 100).unwrap();
        assert_eq!(back.pixels, pixels);
        assert_eq!((back.width, back.height), (3, 2));
        let map = ColourMap::from_label_mappings(&serde_json::json!({
            "cat": {"color": "#ff0000"}, "dog": {"color": "#00ff00"}
        }))
        .unwrap();
        let rgb = encode_mask(3, 2, &pixels, Some(&map)).unwrap();
        assert_eq!(decode_mask(&rgb, Some(&map), 100).unwrap().pixels, pixels);
        let e = decode_mask(&rgb, None, 100).unwrap_err();
        assert!(e.contains("colour map"), "{e}");
        let e = decode_mask(&rgb, Some(&map), 5).unwrap_err();
        assert!(e.contains("`max_pixels`"), "{e}");
    }

    #[test]
    fn an_unknown_colour_is_named_with_its_pixel() {
        let map = ColourMap::from_label_mappings(&serde_json::json!({"cat": {"color": "#ff0000"}}))
            .unwrap();
        let other =
            ColourMap::from_label_mappings(&serde_json::json!({"cat": {"color": "#0000ff"}}))
                .unwrap();
        let png = encode_mask(2, 1, &[0, 1], Some(&other)).unwrap();
        let e = decode_mask(&png, Some(&map), 100).unwrap_err();
        assert!(e.contains("(1, 0)") && e.contains("#0000ff"), "{e}");
    }

    #[test]
    fn indexed_masks_carry_the_map_as_palette_and_decode_either_way() {
        let names = ["0", "1", "2", "3"].map(String::from);
        let map = ColourMap {
            classes: names
                .iter()
                .cloned()
                .zip(default_colours(names.len()))
                .collect(),
        };
        let pixels = vec![0, 1, 2, 3, 3, 2];
        let png = encode_indexed_mask(3, 2, &pixels, &map).unwrap();
        let reader = png::Decoder::new(std::io::Cursor::new(&png))
            .read_info()
            .unwrap();
        let info = reader.info();
        assert_eq!(info.color_type, png::ColorType::Indexed);
        let palette: Vec<u8> = map.classes.iter().flat_map(|(_, c)| *c).collect();
        assert_eq!(info.palette.as_deref(), Some(palette.as_slice()));
        assert_eq!(decode_mask(&png, None, 100).unwrap().pixels, pixels);
        assert_eq!(decode_mask(&png, Some(&map), 100).unwrap().pixels, pixels);
        let e = encode_indexed_mask(1, 1, &[4], &map).unwrap_err();
        assert!(e.contains("class id 4"), "{e}");
    }

    #[test]
    fn default_colours_are_distinct_for_256_classes() {
        let colours = default_colours(256);
        assert_eq!(colours.len(), 256);
        for (i, c) in colours.iter().enumerate() {
            assert!(!colours[..i].contains(c), "class {i}: {c:?} repeats");
        }
        assert_eq!(colours[0], [0, 0, 0]);
        assert_eq!(default_colours(3), colours[..3]);
        // The first 21 classes are far apart (grey levels 0, 1, 2, ...
        // would be 3 apart), the closest being light cyan and light blue.
        let far =
            |a: [u8; 3], b: [u8; 3]| (0..3).map(|i| a[i].abs_diff(b[i]) as u32).sum::<u32>() >= 32;
        for i in 0..21 {
            for j in 0..i {
                assert!(far(colours[i], colours[j]), "classes {j} and {i}");
            }
        }
    }

    #[test]
    fn cut_short_pngs_are_refused() {
        let png = encode_mask(64, 64, &vec![1; 64 * 64], None).unwrap();
        assert!(decode_mask(&png[..png.len() / 2], None, 1 << 20).is_err());
        assert!(decode_mask(b"not a png", None, 1 << 20).is_err());
    }
}
