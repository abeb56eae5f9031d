//! Record formats: how a line of text becomes a record and back.
//!
//! Sources that read text (files, sockets, stdin) hand each line to a
//! [`Decode`]r; sinks that write text hand each record to an [`Encode`]r.
//! JSON and CSV go through serde, so any `#[derive(Deserialize)]` or
//! `#[derive(Serialize)]` struct works.

use crate::{DecodeError, EncodeError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::{Debug, Display};
use std::io::Write as _;
use std::str::FromStr;

/// Turns one line of text into a record.
#[diagnostic::on_unimplemented(
    message = "records of type `{T}` cannot be read with the `{Self}` format",
    label = "this format cannot produce the declared record type",
    note = "`json` and `csv` need `serde::Deserialize` (add `#[derive(Deserialize)]`); `text` and `string` need `FromStr`, such as `String`; `raw` gives `Vec<u8>`"
)]
pub trait Decode<T>: Clone + Send + 'static {
    /// Decodes one line (without its line ending).
    fn decode(&mut self, line: &str) -> Result<T, DecodeError>;

    /// Decodes one message of bytes (a Kafka record's value): UTF-8 text
    /// decoded as a line, unless the format reads bytes itself ([`Raw`]).
    fn decode_bytes(&mut self, bytes: &[u8]) -> Result<T, DecodeError> {
        let text =
            std::str::from_utf8(bytes).map_err(|e| DecodeError::new(format!("not UTF-8: {e}")))?;
        self.decode(text)
    }

    /// Takes the first line of an input as a header (sources with
    /// `header: true`).
    fn header(&mut self, _line: &str) -> Result<(), DecodeError> {
        Ok(())
    }

    /// Whether empty lines are skipped rather than decoded.
    fn skips_blank_lines(&self) -> bool {
        true
    }

    /// Whether [`decode_bytes`](Decode::decode_bytes) checks that the text
    /// it uses is UTF-8 itself, so line sources need not check every line
    /// first.
    fn checks_utf8(&self) -> bool {
        false
    }
}

/// Turns a record into one line of text.
#[diagnostic::on_unimplemented(
    message = "records of type `{T}` cannot be written with the `{Self}` format",
    label = "this format cannot write the stream's records",
    note = "`json` and `csv` need `serde::Serialize` (add `#[derive(Serialize)]`); `text` and `string` need `Display`; `debug` needs `Debug`; `raw` writes `Vec<u8>`"
)]
pub trait Encode<T>: Clone + Send + 'static {
    /// Appends the record and a newline to `out`.
    fn encode(&mut self, item: &T, out: &mut Vec<u8>) -> Result<(), EncodeError>;
}

/// Plain text: a line is a record (`String`, or any `FromStr` type); records
/// are written with `Display`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::format::{Decode, Encode, Text};
/// let n: u32 = Text.decode("42").unwrap();
/// let mut out = Vec::new();
/// Text.encode(&n, &mut out).unwrap();
/// assert_eq!(out, b"42\n");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Text;

impl<T> Decode<T> for Text
where
    T: FromStr + 'static,
    T::Err: Display,
{
    fn decode(&mut self, line: &str) -> Result<T, DecodeError> {
        line.parse().map_err(DecodeError::new)
    }

    fn skips_blank_lines(&self) -> bool {
        false
    }
}

impl<T: Display> Encode<T> for Text {
    fn encode(&mut self, item: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        writeln!(out, "{item}").map_err(EncodeError::new)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("text")
    }
}

/// Bytes as they are: a Kafka record's value as `Vec<u8>`. Written to a
/// line sink, a record is its bytes and a newline.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::format::{Decode, Encode, Raw};
/// let v: Vec<u8> = Raw.decode_bytes(&[0xff, 0x00]).unwrap();
/// assert_eq!(v, vec![0xff, 0x00]);
/// let mut out = Vec::new();
/// Raw.encode(&v, &mut out).unwrap();
/// assert_eq!(out, vec![0xff, 0x00, b'\n']);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw;

impl Decode<Vec<u8>> for Raw {
    fn decode(&mut self, line: &str) -> Result<Vec<u8>, DecodeError> {
        Ok(line.as_bytes().to_vec())
    }

    fn decode_bytes(&mut self, bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
        Ok(bytes.to_vec())
    }

    fn skips_blank_lines(&self) -> bool {
        false
    }
}

impl Encode<Vec<u8>> for Raw {
    fn encode(&mut self, item: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.extend_from_slice(item);
        out.push(b'\n');
        Ok(())
    }
}

/// `Debug` output, one record per line: the default of `stdout`.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::format::{Encode, DebugFormat};
/// let mut out = Vec::new();
/// DebugFormat.encode(&("a", 1), &mut out).unwrap();
/// assert_eq!(out, b"(\"a\", 1)\n");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DebugFormat;

impl<T: Debug> Encode<T> for DebugFormat {
    fn encode(&mut self, item: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        writeln!(out, "{item:?}").map_err(EncodeError::new)
    }
}

/// JSON lines: one JSON value per line.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::format::{Decode, Encode, Json};
/// let v: (String, u32) = Json.decode(r#"["a", 1]"#).unwrap();
/// let mut out = Vec::new();
/// Json.encode(&v, &mut out).unwrap();
/// assert_eq!(out, b"[\"a\",1]\n");
/// assert!(Decode::<u32>::decode(&mut Json, "x").is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<T: DeserializeOwned> Decode<T> for Json {
    fn decode(&mut self, line: &str) -> Result<T, DecodeError> {
        serde_json::from_str(line).map_err(DecodeError::new)
    }

    fn decode_bytes(&mut self, bytes: &[u8]) -> Result<T, DecodeError> {
        serde_json::from_slice(bytes).map_err(DecodeError::new)
    }
}

impl<T: Serialize> Encode<T> for Json {
    fn encode(&mut self, item: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        serde_json::to_writer(&mut *out, item).map_err(EncodeError::new)?;
        out.push(b'\n');
        Ok(())
    }
}

/// CSV, one record per line, fields by position or, after a header line,
/// by name. Quoted fields may hold commas but not line breaks.
///
/// # Examples
///
/// ```
/// use pipeline_runtime::format::{Csv, Decode, Encode};
/// #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
/// struct Row { name: String, n: u32 }
///
/// let mut csv = Csv::default();
/// Decode::<Row>::header(&mut csv, "n,name").unwrap();
/// let row: Row = csv.decode("7,\"a, b\"").unwrap();
/// assert_eq!(row, Row { name: "a, b".into(), n: 7 });
///
/// let mut out = Vec::new();
/// Csv::default().encode(&row, &mut out).unwrap();
/// assert_eq!(out, b"\"a, b\",7\n");
/// ```
#[derive(Debug)]
pub struct Csv {
    headers: Option<csv::ByteRecord>,
    record: csv::ByteRecord,
    /// One parser for every line: building one is far dearer than parsing
    /// a line.
    parser: csv_core::Reader,
    fields: Vec<u8>,
    ends: Vec<usize>,
}

impl Default for Csv {
    fn default() -> Self {
        Csv {
            headers: None,
            record: csv::ByteRecord::new(),
            // `csv_core::Reader::default()` has no parsing tables built.
            parser: csv_core::ReaderBuilder::new().build(),
            fields: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl Clone for Csv {
    fn clone(&self) -> Self {
        Csv {
            headers: self.headers.clone(),
            ..Csv::default()
        }
    }
}

impl Csv {
    fn read_line(&mut self, line: &[u8]) -> Result<(), DecodeError> {
        use csv_core::ReadRecordResult;
        self.parser.reset();
        if self.fields.len() < line.len() + 1 {
            self.fields.resize(line.len() + 1, 0);
        }
        if self.ends.is_empty() {
            self.ends.resize(16, 0);
        }
        let (mut input, mut written, mut fields) = (line, 0, 0);
        loop {
            // An empty input tells the parser the line has ended.
            let (result, read, out, ends) = self.parser.read_record(
                input,
                &mut self.fields[written..],
                &mut self.ends[fields..],
            );
            input = &input[read..];
            written += out;
            fields += ends;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let len = self.fields.len();
                    self.fields.resize(len * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                ReadRecordResult::Record => break,
                ReadRecordResult::End => return Err(DecodeError::new("empty CSV line")),
            }
        }
        self.record.clear();
        let mut start = 0;
        for &end in &self.ends[..fields] {
            self.record.push_field(&self.fields[start..end]);
            start = end;
        }
        Ok(())
    }
}

impl<T: DeserializeOwned> Decode<T> for Csv {
    fn decode(&mut self, line: &str) -> Result<T, DecodeError> {
        self.decode_bytes(line.as_bytes())
    }

    /// Fields are checked to be UTF-8 as they are read into text.
    fn checks_utf8(&self) -> bool {
        true
    }

    fn decode_bytes(&mut self, line: &[u8]) -> Result<T, DecodeError> {
        self.read_line(line)?;
        self.record
            .deserialize(self.headers.as_ref())
            .map_err(|e| match e.kind() {
                // Name the field, not the position inside the one-line reader.
                csv::ErrorKind::Deserialize { err, .. } => {
                    let field = err.field().map(|i| {
                        let name = self.headers.as_ref().and_then(|h| h.get(i as usize));
                        match name {
                            Some(name) => {
                                format!("field {} (`{}`): ", i + 1, String::from_utf8_lossy(name))
                            }
                            None => format!("field {}: ", i + 1),
                        }
                    });
                    DecodeError::new(format!("{}{}", field.unwrap_or_default(), err.kind()))
                }
                _ => DecodeError::new(e),
            })
    }

    fn header(&mut self, line: &str) -> Result<(), DecodeError> {
        self.read_line(line.as_bytes())?;
        self.headers = Some(self.record.clone());
        Ok(())
    }
}

impl<T: Serialize> Encode<T> for Csv {
    fn encode(&mut self, item: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let mut writer = csv::WriterBuilder::new()
            .has_headers(false)
            .buffer_capacity(256)
            .from_writer(&mut *out);
        writer.serialize(item).map_err(EncodeError::new)?;
        writer.flush().map_err(EncodeError::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
    struct Row {
        a: u32,
        b: String,
    }

    #[test]
    fn csv_reads_by_position_without_a_header() {
        let mut c = Csv::default();
        let r: Row = c.decode("1,x").unwrap();
        assert_eq!(
            r,
            Row {
                a: 1,
                b: "x".into()
            }
        );
        let e = Decode::<Row>::decode(&mut c, "one,x").unwrap_err();
        assert!(e.to_string().contains("invalid digit"), "{e}");
    }

    #[test]
    fn csv_reads_bytes_and_names_a_field_that_is_not_utf8() {
        let mut c = Csv::default();
        let r: Row = c.decode_bytes(b"7,\"a, b\"").unwrap();
        assert_eq!(
            r,
            Row {
                a: 7,
                b: "a, b".into()
            }
        );
        let e = Decode::<Row>::decode_bytes(&mut c, b"1,\xff\xfe").unwrap_err();
        assert!(e.to_string().contains("field 2"), "{e}");
    }

    #[test]
    fn csv_encoder_writes_one_line_per_record() {
        let mut c = Csv::default();
        let mut out = Vec::new();
        c.encode(
            &Row {
                a: 1,
                b: "x".into(),
            },
            &mut out,
        )
        .unwrap();
        c.encode(
            &Row {
                a: 2,
                b: "y".into(),
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "1,x\n2,y\n");
    }

    #[test]
    fn text_parses_with_from_str_and_keeps_blank_lines() {
        let mut t = Text;
        let s: String = t.decode("").unwrap();
        assert_eq!(s, "");
        assert!(!Decode::<String>::skips_blank_lines(&t));
        assert!(Decode::<u8>::decode(&mut t, "300").is_err());
    }
}
