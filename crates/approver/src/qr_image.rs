//! Enrollment from a picture of the invitation's QR code (a screenshot, a
//! saved image): [`decode_enrollment_link`].
//!
//! The image is untrusted input, so it is read defensively: at most
//! [`MAX_IMAGE_BYTES`] of input, PNG and JPEG only (the `image` crate built
//! with those two pure-Rust decoders and nothing else), at most
//! [`MAX_IMAGE_SIDE`] pixels a side, checked from the header before any pixel
//! is decoded and enforced again by the decoder's [`image::Limits`] (with a
//! cap on its allocations), so a small file cannot unpack into gigabytes.
//! QR codes are found and read by `rqrr` (pure Rust); a panic inside it is
//! caught and counts as "no readable QR code".
//!
//! The content of a QR code may hold a ticket (a secret): it is never put
//! into an error, a log line or a `Debug` output, and contents that are not
//! returned are zeroized.
//!
//! Decoding is CPU-bound (up to a second or so for the largest images):
//! async callers should run it on a blocking thread.

use crate::error::{Error, Result};
use countersign_protocol::device::EnrollmentUri;
use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;
use zeroize::Zeroizing;

/// Largest image file read: 10 MiB.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;
/// Largest width and height read, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 4096;
/// Most the decoder may allocate: a 16-bit RGBA image of the largest size.
const MAX_DECODER_ALLOC: u64 = MAX_IMAGE_SIDE as u64 * MAX_IMAGE_SIDE as u64 * 8;

/// Why an image did not give an enrollment link. No variant carries the
/// content of a QR code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrImageError {
    /// The input is over [`MAX_IMAGE_BYTES`]; nothing was decoded.
    #[error("the image file is too large ({bytes} bytes; at most {max} bytes are read)")]
    FileTooLarge {
        /// Size of the input.
        bytes: usize,
        /// [`MAX_IMAGE_BYTES`].
        max: usize,
    },
    /// Neither PNG nor JPEG (by its content, whatever the file name says).
    #[error("not a PNG or JPEG image")]
    NotAnImage,
    /// Wider or taller than [`MAX_IMAGE_SIDE`]; no pixel was decoded.
    #[error("the image is too large ({width}x{height} pixels; at most {max}x{max} are read)")]
    ImageTooLarge {
        /// Width from the image header.
        width: u32,
        /// Height from the image header.
        height: u32,
        /// [`MAX_IMAGE_SIDE`].
        max: u32,
    },
    /// A PNG or JPEG that cannot be decoded: truncated or damaged.
    #[error("the {format} image could not be decoded (damaged or truncated file): {reason}")]
    Damaged {
        /// `PNG` or `JPEG`.
        format: &'static str,
        /// The decoder's explanation.
        reason: String,
    },
    /// The image was decoded but holds no QR code that can be read.
    #[error("no readable QR code was found in the image")]
    NoQrCode,
    /// QR codes were read, but none holds a Countersign enrollment link.
    #[error(
        "the image holds {found} QR code(s), none of them a Countersign enrollment link \
         (countersign://enroll?... or https://.../device/v1/enroll-link?...)"
    )]
    NotEnrollmentLink {
        /// How many QR codes were read.
        found: usize,
    },
}

fn format_name(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Png => Some("PNG"),
        ImageFormat::Jpeg => Some("JPEG"),
        _ => None,
    }
}

/// Decodes `image` (PNG or JPEG bytes) into 8-bit greyscale, within the limits.
fn decode_luma(image: &[u8]) -> Result<image::GrayImage, QrImageError> {
    if image.len() > MAX_IMAGE_BYTES {
        return Err(QrImageError::FileTooLarge { bytes: image.len(), max: MAX_IMAGE_BYTES });
    }
    let format = image::guess_format(image).map_err(|_| QrImageError::NotAnImage)?;
    let name = format_name(format).ok_or(QrImageError::NotAnImage)?;
    let damaged = |e: image::ImageError| QrImageError::Damaged { format: name, reason: e.to_string() };

    let (width, height) = ImageReader::with_format(Cursor::new(image), format).into_dimensions().map_err(damaged)?;
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE {
        return Err(QrImageError::ImageTooLarge { width, height, max: MAX_IMAGE_SIDE });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(image), format);
    reader.limits(limits);
    let decoded = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => QrImageError::ImageTooLarge { width, height, max: MAX_IMAGE_SIDE },
        other => damaged(other),
    })?;
    Ok(decoded.into_luma8())
}

/// The texts of the QR codes `rqrr` can read in `luma` (codes it finds but
/// cannot decode are skipped). `None` if `rqrr` panicked.
fn read_qr_codes(luma: &image::GrayImage) -> Option<Vec<Zeroizing<String>>> {
    let (w, h) = (luma.width() as usize, luma.height() as usize);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
            // x < w and y < h, which came from u32: the casts are exact.
            luma.get_pixel(x as u32, y as u32).0[0]
        });
        prepared.detect_grids().iter().filter_map(|grid| grid.decode().ok()).map(|(_, s)| Zeroizing::new(s)).collect()
    }))
    .ok()
}

/// Reads the enrollment link in a picture of its QR code: the content of the
/// first QR code in `image` (PNG or JPEG bytes) that is an enrollment
/// invitation by [`EnrollmentUri::parse`] (`countersign://enroll?...` or
/// `https://.../device/v1/enroll-link?...`), as written in the code (without
/// surrounding white space). Pass it to [`crate::Approver::enroll_preview`]
/// and [`crate::Approver::enroll`].
///
/// The result holds the ticket: keep it out of logs.
///
/// # Errors
/// [`Error::QrImage`]: [`QrImageError::FileTooLarge`],
/// [`QrImageError::NotAnImage`], [`QrImageError::ImageTooLarge`],
/// [`QrImageError::Damaged`], [`QrImageError::NoQrCode`],
/// [`QrImageError::NotEnrollmentLink`].
pub fn decode_enrollment_link(image: &[u8]) -> Result<String> {
    let luma = decode_luma(image)?;
    let contents = read_qr_codes(&luma).unwrap_or_default();
    if contents.is_empty() {
        return Err(Error::QrImage(QrImageError::NoQrCode));
    }
    contents
        .iter()
        .map(|c| c.trim())
        .find(|c| EnrollmentUri::parse(c).is_ok())
        .map(str::to_owned)
        .ok_or(Error::QrImage(QrImageError::NotEnrollmentLink { found: contents.len() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_size_is_checked_before_anything_else() {
        let mut big = vec![0u8; MAX_IMAGE_BYTES + 1];
        big[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
        assert_eq!(
            decode_luma(&big).unwrap_err(),
            QrImageError::FileTooLarge { bytes: MAX_IMAGE_BYTES + 1, max: MAX_IMAGE_BYTES }
        );
    }

    #[test]
    fn only_png_and_jpeg_are_read() {
        assert_eq!(decode_luma(b"").unwrap_err(), QrImageError::NotAnImage);
        assert_eq!(decode_luma(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;").unwrap_err(), QrImageError::NotAnImage);
        assert_eq!(decode_luma(b"BM\x00\x00\x00\x00").unwrap_err(), QrImageError::NotAnImage);
        assert_eq!(format_name(ImageFormat::WebP), None);
    }

    #[test]
    fn a_blank_image_has_no_qr_code() {
        let luma = image::GrayImage::from_pixel(64, 64, image::Luma([255]));
        assert_eq!(read_qr_codes(&luma), Some(Vec::new()));
    }
}
