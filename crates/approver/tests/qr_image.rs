//! Enrollment links read from QR code images: the vectors in
//! `testdata/qr/` (made by `make_qr_test_vectors` below, see its README),
//! each refusal, and the size limits.

use countersign_approver::qr_image::{decode_enrollment_link, QrImageError, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE};
use countersign_approver::Error;
use countersign_protocol::device::EnrollmentUri;
use image::{GrayImage, ImageFormat, Luma};
use std::io::Cursor;
use std::path::PathBuf;

/// The example ticket of docs/protocol.md (not a live secret).
const TICKET: &str = "9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";
const APP_URI: &str =
    "countersign://enroll?issuer=https%3A%2F%2Fauth.example.com&ticket=9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";
const HTTPS_LINK: &str =
    "https://auth.example.com/device/v1/enroll-link?ticket=9e7dLqz2IarV9t3HFBQzBKmySsX_vnca7id-d0E3Swc";
const OTHER_URL: &str = "https://example.com/menu?table=12";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/qr")
}

fn vector(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn qr_error(bytes: &[u8]) -> QrImageError {
    match decode_enrollment_link(bytes) {
        Err(Error::QrImage(e)) => e,
        other => panic!("expected a QR image error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Drawing QR codes (for the vectors and the tests that build images)
// ---------------------------------------------------------------------------

/// How to draw a QR code onto a canvas.
struct Drawing {
    /// Pixels per module.
    scale: u32,
    /// Canvas size.
    width: u32,
    height: u32,
    /// Top-left corner of the code's first module.
    left: u32,
    top: u32,
    /// Grey levels.
    light: u8,
    dark: u8,
}

fn draw(content: &str, d: &Drawing) -> GrayImage {
    let code = qrcode::QrCode::new(content.as_bytes()).unwrap();
    let modules = code.width() as u32;
    let colors = code.to_colors();
    assert!(d.left + modules * d.scale <= d.width && d.top + modules * d.scale <= d.height, "code fits");
    GrayImage::from_fn(d.width, d.height, |x, y| {
        let inside = x >= d.left && y >= d.top && x < d.left + modules * d.scale && y < d.top + modules * d.scale;
        if !inside {
            return Luma([d.light]);
        }
        let (mx, my) = ((x - d.left) / d.scale, (y - d.top) / d.scale);
        match colors[(my * modules + mx) as usize] {
            qrcode::Color::Dark => Luma([d.dark]),
            qrcode::Color::Light => Luma([d.light]),
        }
    })
}

/// The plain drawing: 4 px modules, the standard 4-module quiet zone.
fn plain(content: &str) -> GrayImage {
    let modules = qrcode::QrCode::new(content.as_bytes()).unwrap().width() as u32;
    let side = (modules + 8) * 4;
    draw(content, &Drawing { scale: 4, width: side, height: side, left: 16, top: 16, light: 255, dark: 0 })
}

fn encode(image: &GrayImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
            image.write_with_encoder(encoder).unwrap();
        }
        _ => image.write_to(&mut out, format).unwrap(),
    }
    out.into_inner()
}

/// Writes the vectors of `testdata/qr/` (see its README). Run on purpose:
/// `cargo test -p countersign-approver --test qr_image -- --ignored`.
#[test]
#[ignore = "writes testdata/qr/; run on purpose to make the vectors again"]
fn make_qr_test_vectors() {
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir().join(name), bytes).unwrap();
    std::fs::create_dir_all(dir()).unwrap();
    write("app-uri.png", &encode(&plain(APP_URI), ImageFormat::Png));
    // Larger modules, an off-centre code on a wide light-grey canvas, dark
    // grey modules, lossy JPEG at quality 80.
    let modules = qrcode::QrCode::new(HTTPS_LINK.as_bytes()).unwrap().width() as u32;
    let d = Drawing {
        scale: 7,
        width: modules * 7 + 150,
        height: modules * 7 + 70,
        left: 97,
        top: 31,
        light: 228,
        dark: 41,
    };
    write("https-link.jpg", &encode(&draw(HTTPS_LINK, &d), ImageFormat::Jpeg));
    write("not-enrollment.png", &encode(&plain(OTHER_URL), ImageFormat::Png));
    // Stripes and squares, no QR code.
    let no_qr = GrayImage::from_fn(160, 120, |x, y| Luma([if (x / 10 + y / 30) % 2 == 0 { 30 } else { 220 }]));
    write("no-qr.png", &encode(&no_qr, ImageFormat::Png));
    let whole = encode(&plain(APP_URI), ImageFormat::Png);
    write("truncated.png", &whole[..whole.len() / 2]);
    write("not-an-image.txt", b"countersign://enroll is not a picture; this file is plain text.\n");
}

// ---------------------------------------------------------------------------
// The vectors
// ---------------------------------------------------------------------------

#[test]
fn a_png_with_the_app_uri_gives_the_uri() {
    let link = decode_enrollment_link(&vector("app-uri.png")).unwrap();
    assert_eq!(link, APP_URI);
    assert_eq!(EnrollmentUri::parse(&link).unwrap().ticket().secret(), TICKET);
}

#[test]
fn a_scaled_off_centre_jpeg_with_the_https_link_gives_the_link() {
    let bytes = vector("https-link.jpg");
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
    let link = decode_enrollment_link(&bytes).unwrap();
    assert_eq!(link, HTTPS_LINK);
    assert_eq!(EnrollmentUri::parse(&link).unwrap(), EnrollmentUri::parse(APP_URI).unwrap());
}

#[test]
fn a_qr_code_that_is_not_an_invitation_is_refused_without_echoing_it() {
    let e = qr_error(&vector("not-enrollment.png"));
    assert_eq!(e, QrImageError::NotEnrollmentLink { found: 1 });
    let message = Error::QrImage(e).to_string();
    assert!(!message.contains("example.com") && !message.contains("table"), "{message}");
    assert!(message.contains("not") || message.contains("none"), "{message}");
}

#[test]
fn an_image_without_a_qr_code_is_refused() {
    assert_eq!(qr_error(&vector("no-qr.png")), QrImageError::NoQrCode);
}

#[test]
fn a_truncated_png_is_damaged() {
    match qr_error(&vector("truncated.png")) {
        QrImageError::Damaged { format, .. } => assert_eq!(format, "PNG"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_text_file_is_not_an_image() {
    let e = qr_error(&vector("not-an-image.txt"));
    assert_eq!(e, QrImageError::NotAnImage);
    assert_eq!(Error::QrImage(e).to_string(), "QR code image: not a PNG or JPEG image");
}

#[test]
fn other_image_formats_are_not_read() {
    let gif = encode(&plain(APP_URI), ImageFormat::Png);
    // A GIF or BMP signature in front of otherwise fine data.
    for magic in [&b"GIF89a"[..], b"BM"] {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&gif);
        assert_eq!(qr_error(&bytes), QrImageError::NotAnImage);
    }
}

#[test]
fn the_first_enrollment_link_wins_over_other_codes() {
    // Two codes side by side: a menu link, then (right) an invitation.
    let menu = plain(OTHER_URL);
    let invitation = plain(APP_URI);
    let mut canvas =
        GrayImage::from_pixel(menu.width() + invitation.width(), menu.height().max(invitation.height()), Luma([255]));
    image::imageops::replace(&mut canvas, &menu, 0, 0);
    image::imageops::replace(&mut canvas, &invitation, i64::from(menu.width()), 0);
    assert_eq!(decode_enrollment_link(&encode(&canvas, ImageFormat::Png)).unwrap(), APP_URI);
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

#[test]
fn inputs_over_the_size_limit_are_refused_before_decoding() {
    // A real PNG padded past the limit (trailing bytes after IEND).
    let mut bytes = vector("app-uri.png");
    bytes.resize(MAX_IMAGE_BYTES + 1, 0);
    assert_eq!(qr_error(&bytes), QrImageError::FileTooLarge { bytes: MAX_IMAGE_BYTES + 1, max: MAX_IMAGE_BYTES });
    // At the limit it is read.
    bytes.truncate(MAX_IMAGE_BYTES);
    assert_eq!(decode_enrollment_link(&bytes).unwrap(), APP_URI);
}

#[test]
fn images_over_the_pixel_limit_are_refused_from_their_header() {
    // A few kilobytes of PNG that would unpack into 4097 x 4097 pixels.
    let side = MAX_IMAGE_SIDE + 1;
    let bomb = encode(&GrayImage::from_pixel(side, side, Luma([255])), ImageFormat::Png);
    assert!(bomb.len() < 200 * 1024, "{} bytes", bomb.len());
    assert_eq!(qr_error(&bomb), QrImageError::ImageTooLarge { width: side, height: side, max: MAX_IMAGE_SIDE });
    let wide = encode(&GrayImage::from_pixel(side, 8, Luma([255])), ImageFormat::Png);
    assert_eq!(qr_error(&wide), QrImageError::ImageTooLarge { width: side, height: 8, max: MAX_IMAGE_SIDE });
    let tall = encode(&GrayImage::from_pixel(8, side, Luma([255])), ImageFormat::Jpeg);
    assert_eq!(qr_error(&tall), QrImageError::ImageTooLarge { width: 8, height: side, max: MAX_IMAGE_SIDE });
    // The largest accepted size is decoded (and has no code).
    let edge = encode(&GrayImage::from_pixel(MAX_IMAGE_SIDE, 16, Luma([255])), ImageFormat::Png);
    assert_eq!(qr_error(&edge), QrImageError::NoQrCode);
}

#[test]
fn errors_never_carry_the_ticket() {
    let mut truncated = encode(&plain(APP_URI), ImageFormat::Png);
    truncated.truncate(truncated.len() - 30);
    // A readable code whose link carries the ticket but is refused (ftp issuer).
    let refused_link = format!("countersign://enroll?issuer=ftp%3A%2F%2Fauth.example.com&ticket={TICKET}");
    let refused = encode(&plain(&refused_link), ImageFormat::Png);
    assert!(matches!(qr_error(&refused), QrImageError::NotEnrollmentLink { .. }));
    let cases = [truncated, refused, vector("not-enrollment.png"), vector("no-qr.png"), vector("not-an-image.txt")];
    for bytes in cases {
        let e = decode_enrollment_link(&bytes).unwrap_err();
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains(TICKET), "{text}");
        }
    }
}
