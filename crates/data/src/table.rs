//! Tables of one's own data: CSV, TSV, JSON Lines and Parquet files read into the columns a
//! caller asks for, each row with its line number so that errors name file, line and column.
//!
//! | format | extensions | header | cells |
//! |---|---|---|---|
//! | CSV | `.csv` | first line | RFC 4180 quoting (`"a, b"`, `""` for a quote) |
//! | TSV | `.tsv`, `.tab` | first line | split on tabs only, no quoting (GLUE's convention) |
//! | JSON Lines | `.jsonl`, `.ndjson` | none: one object per line, keys are columns | strings, numbers, booleans; `null` or a missing key is an empty cell |
//! | Parquet | `.parquet`, `.pq` | the schema | string, integer, float and boolean columns |
//!
//! A UTF-8 byte-order mark is skipped. Line numbers are 1-based lines of the file (a CSV row
//! that spans lines is numbered by its first); for Parquet, whose rows have no lines, the
//! number is the 1-based row number.
//!
//! [`write_table`] writes named columns ([`Column`]: text, integers or floats) in the same four
//! formats, atomically (a temporary file renamed over the target), so that the files it writes
//! read back with [`Table::read`].

use crate::error::{Error, Result};
use arrow::array::{Array, StringArray};
use arrow::datatypes::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tinybert_model::io::{write_atomic_with, AtomicFile};

/// The file formats a [`Table`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Tsv,
    #[serde(rename = "jsonl")]
    JsonLines,
    Parquet,
}

impl Format {
    /// The format of `path`, from its extension.
    pub fn of(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("tsv" | "tab") => Ok(Format::Tsv),
            Some("jsonl" | "ndjson") => Ok(Format::JsonLines),
            Some("parquet" | "pq") => Ok(Format::Parquet),
            _ => Err(Error::Input {
                path: path.to_path_buf(),
                msg: "unknown file format: the name must end in .csv, .tsv, .jsonl or .parquet"
                    .into(),
            }),
        }
    }

    /// The format's usual file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::JsonLines => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    /// `csv`, `tsv`, `jsonl` or `parquet` (the extensions [`Format::of`] knows).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Format::of(Path::new(&format!("x.{s}")))
            .map_err(|_| format!("unknown format `{s}`: expected csv, tsv, jsonl or parquet"))
    }
}

/// One row: its line number and the text of each requested column (`None`: empty or null).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// 1-based line number (Parquet: row number).
    pub line: usize,
    /// One cell per requested column, in the order asked for. Numbers and booleans are given
    /// as their text (`1`, `0.5`, `true`); an empty CSV/TSV field is `None`.
    pub cells: Vec<Option<String>>,
}

/// The requested columns of a file, row by row.
#[derive(Debug, Clone)]
pub struct Table {
    pub path: PathBuf,
    pub format: Format,
    /// The requested column names, in the order of [`Row::cells`].
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    /// Reads `columns` of the file at `path` (format from its extension). A requested column
    /// that the file lacks is an error naming it and the file's columns.
    pub fn read(path: &Path, columns: &[&str]) -> Result<Table> {
        let format = Format::of(path)?;
        let rows = match format {
            Format::Csv => read_delimited(path, b',', true, columns)?,
            Format::Tsv => read_delimited(path, b'\t', false, columns)?,
            Format::JsonLines => read_json_lines(path, columns)?,
            Format::Parquet => read_parquet(path, columns)?,
        };
        Ok(Table {
            path: path.to_path_buf(),
            format,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        })
    }

    /// The column names of the file at `path` (JSON Lines: the keys of its first object).
    pub fn header(path: &Path) -> Result<Vec<String>> {
        match Format::of(path)? {
            Format::Csv => delimited_header(path, b',', true),
            Format::Tsv => delimited_header(path, b'\t', false),
            Format::JsonLines => {
                let reader = BufReader::new(File::open(path).map_err(|e| Error::io(path, e))?);
                for (i, line) in reader.lines().enumerate() {
                    let line = line.map_err(|e| Error::io(path, e))?;
                    if !line.trim().is_empty() {
                        return Ok(json_object(path, i + 1, &line)?.keys().cloned().collect());
                    }
                }
                Ok(Vec::new())
            }
            Format::Parquet => {
                let b = parquet_builder(path)?;
                Ok(b.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect())
            }
        }
    }
}

fn missing_column(path: &Path, column: &str, present: &[String]) -> Error {
    Error::Header {
        path: path.to_path_buf(),
        msg: format!(
            "no column `{column}` (the file has: {})",
            if present.is_empty() {
                "no columns".to_string()
            } else {
                present.join(", ")
            }
        ),
    }
}

fn csv_reader(path: &Path, delimiter: u8, quoting: bool) -> Result<csv::Reader<File>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quoting(quoting)
        .has_headers(true)
        .flexible(false)
        .from_reader(file))
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line() as usize);
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => return Error::io(path, std::io::Error::new(io.kind(), e)),
        _ => e.to_string(),
    };
    Error::row(path, line, msg)
}

fn delimited_header(path: &Path, delimiter: u8, quoting: bool) -> Result<Vec<String>> {
    let mut r = csv_reader(path, delimiter, quoting)?;
    let header = r.headers().map_err(|e| csv_error(path, e))?;
    Ok(header.iter().map(|h| h.trim().to_string()).collect())
}

fn read_delimited(path: &Path, delimiter: u8, quoting: bool, columns: &[&str]) -> Result<Vec<Row>> {
    let mut r = csv_reader(path, delimiter, quoting)?;
    let header: Vec<String> = r
        .headers()
        .map_err(|e| csv_error(path, e))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let index = columns
        .iter()
        .map(|c| {
            header
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| missing_column(path, c, &header))
        })
        .collect::<Result<Vec<usize>>>()?;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match r.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, e)),
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        // A blank line between records is not a row.
        if record.len() == 1 && record[0].trim().is_empty() && header.len() > 1 {
            continue;
        }
        let cells = index
            .iter()
            .map(|&i| Some(record[i].to_string()).filter(|s| !s.is_empty()))
            .collect();
        rows.push(Row { line, cells });
    }
    Ok(rows)
}

fn json_object(
    path: &Path,
    line: usize,
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str::<serde_json::Value>(text.trim_start_matches('\u{feff}')) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::row(path, line, "not a JSON object")),
        Err(e) => Err(Error::row(path, line, format!("not JSON: {e}"))),
    }
}

fn read_json_lines(path: &Path, columns: &[&str]) -> Result<Vec<Row>> {
    let reader = BufReader::new(File::open(path).map_err(|e| Error::io(path, e))?);
    let mut rows = Vec::new();
    let mut seen = vec![false; columns.len()];
    let mut first_keys: Option<Vec<String>> = None;
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let text = line.map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => Error::row(path, line_no, "invalid UTF-8"),
            _ => Error::io(path, e),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let object = json_object(path, line_no, &text)?;
        first_keys.get_or_insert_with(|| object.keys().cloned().collect());
        let mut cells = Vec::with_capacity(columns.len());
        for (c, column) in columns.iter().enumerate() {
            let cell = match object.get(*column) {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => {
                    seen[c] = true;
                    Some(match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Number(n) => n.to_string(),
                        serde_json::Value::Bool(b) => b.to_string(),
                        _ => {
                            return Err(Error::row(
                                path,
                                line_no,
                                format!("column `{column}`: a list or object, expected text, a number or a boolean"),
                            ))
                        }
                    })
                }
            };
            cells.push(cell.filter(|s| !s.is_empty()));
        }
        rows.push(Row {
            line: line_no,
            cells,
        });
    }
    // A column that no row has is a missing column, not a file of empty cells.
    if let Some(c) = seen.iter().position(|s| !s) {
        if !rows.is_empty() {
            return Err(missing_column(
                path,
                columns[c],
                &first_keys.unwrap_or_default(),
            ));
        }
    }
    Ok(rows)
}

fn parquet_builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::parquet(path, e))
}

fn read_parquet(path: &Path, columns: &[&str]) -> Result<Vec<Row>> {
    let builder = parquet_builder(path)?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let index = columns
        .iter()
        .map(|c| {
            let i = names
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| missing_column(path, c, &names))?;
            let dt = schema.field(i).data_type();
            let readable = dt.is_numeric()
                || matches!(
                    dt,
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean
                );
            if readable {
                Ok(i)
            } else {
                Err(Error::Header {
                    path: path.to_path_buf(),
                    msg: format!("column `{c}` has type {dt}, expected text, numbers or booleans"),
                })
            }
        })
        .collect::<Result<Vec<usize>>>()?;
    let mut sorted = index.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), sorted.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(8192)
        .build()
        .map_err(|e| Error::parquet(path, e))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| Error::arrow(path, e))?;
        let texts = index
            .iter()
            .map(|i| {
                let col = batch
                    .column_by_name(&names[*i])
                    .expect("projected column is in the batch");
                let cast = arrow::compute::cast(col, &DataType::Utf8)
                    .map_err(|e| Error::arrow(path, e))?;
                Ok(cast
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8 gives a StringArray")
                    .clone())
            })
            .collect::<Result<Vec<StringArray>>>()?;
        for r in 0..batch.num_rows() {
            let cells = texts
                .iter()
                .map(|t| {
                    (!t.is_null(r))
                        .then(|| t.value(r).to_string())
                        .filter(|s| !s.is_empty())
                })
                .collect();
            rows.push(Row {
                line: rows.len() + 1,
                cells,
            });
        }
    }
    Ok(rows)
}

/// The values of one column to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Text(Vec<String>),
    Int(Vec<i64>),
    /// Written with the fewest digits that read back as the same `f32`; NaN and infinities
    /// are empty cells (JSON `null`).
    Float(Vec<f32>),
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` as CSV/TSV cell text.
    fn cell(&self, i: usize) -> String {
        match self {
            Values::Text(v) => v[i].clone(),
            Values::Int(v) => v[i].to_string(),
            Values::Float(v) if v[i].is_finite() => v[i].to_string(),
            Values::Float(_) => String::new(),
        }
    }

    /// Row `i` as a JSON value (floats as their shortest `f32` text).
    fn json(&self, i: usize, out: &mut String) {
        match self {
            Values::Text(v) => out.push_str(&serde_json::Value::from(v[i].as_str()).to_string()),
            Values::Int(v) => out.push_str(&v[i].to_string()),
            Values::Float(v) if v[i].is_finite() => out.push_str(&v[i].to_string()),
            Values::Float(_) => out.push_str("null"),
        }
    }
}

/// A named column to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: Values,
}

impl Column {
    pub fn new(name: impl Into<String>, values: Values) -> Self {
        Self {
            name: name.into(),
            values,
        }
    }
}

/// Writes `columns` (all of one length, distinct names) to `path` in `format`: a header line
/// (CSV, TSV), one object per row (JSON Lines), or a schema of utf8 / int64 / float32 columns
/// (Parquet). The file is written under a temporary name and renamed over `path`, so an
/// interrupted write leaves no half file. TSV has no quoting: a text cell holding a tab or a
/// line break is an error naming the column and row.
pub fn write_table(path: &Path, format: Format, columns: &[Column]) -> Result<()> {
    let rows = columns.first().map_or(0, |c| c.values.len());
    for (i, c) in columns.iter().enumerate() {
        if c.values.len() != rows {
            return Err(Error::Invalid(format!(
                "{}: column `{}` has {} values, `{}` has {rows}",
                path.display(),
                c.name,
                c.values.len(),
                columns[0].name
            )));
        }
        if columns[..i].iter().any(|o| o.name == c.name) {
            return Err(Error::Invalid(format!(
                "{}: two columns are named `{}`",
                path.display(),
                c.name
            )));
        }
    }
    match format {
        Format::Csv | Format::Tsv => write_delimited(path, format, columns, rows),
        Format::JsonLines => write_json_lines(path, columns, rows),
        Format::Parquet => write_parquet(path, columns),
    }
}

/// Writes through an [`AtomicFile`] and a buffer, then commits.
fn write_buffered(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<AtomicFile>) -> Result<()>,
) -> Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, AtomicFile::create(path)?);
    fill(&mut w)?;
    let file = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    Ok(file.commit()?)
}

fn write_delimited(path: &Path, format: Format, columns: &[Column], rows: usize) -> Result<()> {
    let tsv = format == Format::Tsv;
    if tsv {
        let bad = |s: &str| s.contains(['\t', '\n', '\r']);
        for c in columns {
            let row = match &c.values {
                Values::Text(v) => v.iter().position(|s| bad(s)),
                _ => None,
            };
            if let Some(r) = row.or_else(|| bad(&c.name).then_some(0)) {
                return Err(Error::Invalid(format!(
                    "{}: column `{}`, row {r}: a tab or line break cannot be written to a TSV file (write CSV, JSON Lines or Parquet)",
                    path.display(),
                    c.name
                )));
            }
        }
    }
    write_buffered(path, |w| {
        let mut out = csv::WriterBuilder::new()
            .delimiter(if tsv { b'\t' } else { b',' })
            .quote_style(if tsv {
                csv::QuoteStyle::Never
            } else {
                csv::QuoteStyle::Necessary
            })
            .from_writer(w);
        let err = |e: csv::Error| Error::io(path, std::io::Error::other(e));
        out.write_record(columns.iter().map(|c| c.name.as_str()))
            .map_err(err)?;
        let mut record = Vec::with_capacity(columns.len());
        for i in 0..rows {
            record.clear();
            record.extend(columns.iter().map(|c| c.values.cell(i)));
            out.write_record(&record).map_err(err)?;
        }
        out.flush().map_err(|e| Error::io(path, e))
    })
}

fn write_json_lines(path: &Path, columns: &[Column], rows: usize) -> Result<()> {
    let keys: Vec<String> = columns
        .iter()
        .map(|c| serde_json::Value::from(c.name.as_str()).to_string())
        .collect();
    write_buffered(path, |w| {
        let mut line = String::new();
        for i in 0..rows {
            line.clear();
            line.push('{');
            for (k, (key, c)) in keys.iter().zip(columns).enumerate() {
                if k > 0 {
                    line.push_str(", ");
                }
                line.push_str(key);
                line.push_str(": ");
                c.values.json(i, &mut line);
            }
            line.push_str("}\n");
            w.write_all(line.as_bytes())
                .map_err(|e| Error::io(path, e))?;
        }
        Ok(())
    })
}

fn write_parquet(path: &Path, columns: &[Column]) -> Result<()> {
    use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
    use arrow::datatypes::{Field, Schema};
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for c in columns {
        let (dt, array): (DataType, ArrayRef) = match &c.values {
            Values::Text(v) => (
                DataType::Utf8,
                Arc::new(StringArray::from_iter_values(v.iter().map(String::as_str))),
            ),
            Values::Int(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            Values::Float(v) => (
                DataType::Float32,
                Arc::new(Float32Array::from_iter(
                    v.iter().map(|x| x.is_finite().then_some(*x)),
                )),
            ),
        };
        let nullable = matches!(c.values, Values::Float(_));
        fields.push(Field::new(&c.name, dt, nullable));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| Error::arrow(path, e))?;
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    write_atomic_with(path, |tmp: &Path| {
        let file = File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, Some(props))
            .map_err(|e| Error::parquet(path, e))?;
        w.write(&batch).map_err(|e| Error::parquet(path, e))?;
        w.close().map_err(|e| Error::parquet(path, e))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinybert_testkit::assert_mentions;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn csv_quotes_tsv_splits_on_tabs_and_both_skip_a_bom() {
        let d = tempfile::tempdir().unwrap();
        let csv = write(
            d.path(),
            "a.csv",
            "\u{feff}id,text,label\n1,\"Hello, \"\"you\"\"\",pos\n2,\"two\nlines\",neg\n3,,neg\n",
        );
        let t = Table::read(&csv, &["text", "label"]).unwrap();
        let cells: Vec<_> = t.rows.iter().map(|r| (r.line, r.cells.clone())).collect();
        assert_eq!(
            cells,
            [
                (2, vec![Some("Hello, \"you\"".into()), Some("pos".into())]),
                (3, vec![Some("two\nlines".into()), Some("neg".into())]),
                (5, vec![None, Some("neg".into())]),
            ]
        );
        let tsv = write(d.path(), "a.tsv", "text\tlabel\n\"quoted start\tpos\n");
        let t = Table::read(&tsv, &["label", "text"]).unwrap();
        assert_eq!(
            t.rows[0].cells,
            [Some("pos".into()), Some("\"quoted start".into())]
        );
        assert_eq!(Table::header(&csv).unwrap(), ["id", "text", "label"]);
    }

    #[test]
    fn json_lines_give_numbers_and_booleans_as_text() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "a.jsonl",
            "{\"text\": \"hi\", \"score\": 3.5, \"ok\": true}\n\n{\"text\": \"yo\", \"score\": 1}\n",
        );
        let t = Table::read(&p, &["text", "score", "ok"]).unwrap();
        assert_eq!(
            t.rows[0].cells,
            [Some("hi".into()), Some("3.5".into()), Some("true".into())]
        );
        assert_eq!(
            (t.rows[1].line, &t.rows[1].cells[1..]),
            (3, &[Some("1".into()), None][..])
        );
    }

    #[test]
    fn parquet_columns_of_any_plain_type_are_read_as_text() {
        use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
        use std::sync::Arc;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.parquet");
        let batch = RecordBatch::try_from_iter([
            (
                "text",
                Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef,
            ),
            ("label", Arc::new(Int64Array::from(vec![1, 0])) as ArrayRef),
            (
                "score",
                Arc::new(Float32Array::from(vec![0.5, 4.0])) as ArrayRef,
            ),
        ])
        .unwrap();
        let mut w =
            parquet::arrow::ArrowWriter::try_new(File::create(&p).unwrap(), batch.schema(), None)
                .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let t = Table::read(&p, &["score", "text", "label"]).unwrap();
        assert_eq!(
            t.rows[0].cells,
            [Some("0.5".into()), Some("a".into()), Some("1".into())]
        );
        assert_eq!((t.rows[1].line, &t.rows[1].cells[1]), (2, &None));
        assert_eq!(Table::header(&p).unwrap(), ["text", "label", "score"]);
    }

    #[test]
    fn malformed_files_name_the_file_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        let csv = write(d.path(), "bad.csv", "text,label\na,pos\nb,neg,extra\n");
        let err = Table::read(&csv, &["text"]).unwrap_err().to_string();
        assert_mentions(&err, &["bad.csv:3:", "3 fields, the header has 2"]);
        let err = Table::read(&csv, &["sentence"]).unwrap_err().to_string();
        assert_mentions(&err, &["bad.csv", "no column `sentence`", "text, label"]);
        let jsonl = write(
            d.path(),
            "bad.jsonl",
            "{\"text\": \"a\"}\n{\"text\": [1]}\n",
        );
        let err = Table::read(&jsonl, &["text"]).unwrap_err().to_string();
        assert_mentions(&err, &["bad.jsonl:2:", "column `text`", "a list or object"]);
        let err = Table::read(&jsonl, &["label"]).unwrap_err().to_string();
        assert_mentions(&err, &["bad.jsonl", "no column `label`"]);
        let broken = write(d.path(), "broken.jsonl", "{\"text\": \"a\"}\n{oops\n");
        let err = Table::read(&broken, &["text"]).unwrap_err().to_string();
        assert_mentions(&err, &["broken.jsonl:2:", "not JSON"]);
        let err = Table::read(&d.path().join("x.xlsx"), &["a"])
            .unwrap_err()
            .to_string();
        assert_mentions(&err, &["x.xlsx", "unknown file format"]);
    }

    #[test]
    fn written_tables_read_back_in_every_format() {
        let d = tempfile::tempdir().unwrap();
        let columns = [
            Column::new(
                "id",
                Values::Text(vec!["a,1".into(), "b \"q\"".into(), "ü".into()]),
            ),
            Column::new("row", Values::Int(vec![0, 1, 2])),
            Column::new("p", Values::Float(vec![0.1, 1.0 / 3.0, f32::NAN])),
        ];
        for format in [Format::Csv, Format::Tsv, Format::JsonLines, Format::Parquet] {
            let p = d.path().join(format!("t.{}", format.extension()));
            let cols = if format == Format::Tsv {
                let mut c = columns.to_vec();
                c[0].values = Values::Text(vec!["a 1".into(), "b".into(), "ü".into()]);
                c
            } else {
                columns.to_vec()
            };
            write_table(&p, format, &cols).unwrap();
            let mut header = Table::header(&p).unwrap();
            if format == Format::JsonLines {
                // serde_json's objects sort their keys.
                header.sort_by_key(|h| ["id", "row", "p"].iter().position(|c| c == h));
            }
            assert_eq!(header, ["id", "row", "p"], "{format:?}");
            let t = Table::read(&p, &["id", "row", "p"]).unwrap();
            let cells: Vec<_> = t.rows.iter().map(|r| r.cells.clone()).collect();
            let id0 = if format == Format::Tsv { "a 1" } else { "a,1" };
            assert_eq!(cells[0][0].as_deref(), Some(id0), "{format:?}");
            assert_eq!(cells[1][1].as_deref(), Some("1"), "{format:?}");
            let third: f32 = cells[1][2].as_deref().unwrap().parse().unwrap();
            assert_eq!(third, 1.0 / 3.0, "{format:?}");
            assert_eq!(cells[2][2], None, "{format:?}");
            assert_eq!(cells[2][0].as_deref(), Some("ü"), "{format:?}");
        }
        let bad = d.path().join("bad.tsv");
        let tab = [Column::new("id", Values::Text(vec!["a\tb".into()]))];
        let err = write_table(&bad, Format::Tsv, &tab)
            .unwrap_err()
            .to_string();
        assert_mentions(
            &err,
            &["bad.tsv", "column `id`", "row 0", "tab or line break"],
        );
        assert!(!bad.exists());
        assert_eq!("jsonl".parse::<Format>().unwrap(), Format::JsonLines);
        assert!("xlsx".parse::<Format>().is_err());
    }
}
