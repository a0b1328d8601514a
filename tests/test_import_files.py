"""Reading import files and mapping their columns: encodings, delimiters, XLSX, presets,
mapping files. No database needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from plumb.records.fields import schema_for
from plumb.transfer.cells import neutralise, restore, to_cell
from plumb.transfer.mapping import MappingInvalid, Target, auto_mapping, load_mapping
from plumb.transfer.readers import TableReader, sniff
from plumb.workspace.loader import load_workspace


@pytest.fixture
def contact_schema(tmp_path: Path):  # type: ignore[no-untyped-def]
    return schema_for(load_workspace(tmp_path / "none.yaml").workspace, "contact")


def _read(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    with TableReader(path) as reader:
        return reader.header, list(reader.rows())


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffFirst Name,Last Name\nZoë,Ångström\n".encode())
    fmt = sniff(path)
    assert (fmt.encoding, fmt.delimiter) == ("utf-8-sig", ",")
    assert _read(path) == (["First Name", "Last Name"], [(2, ["Zoë", "Ångström"])])


def test_cp1252_from_excel(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    rows = "first_name;last_name;city\n" + "".join(
        f"Ren\u00e9e;Gar\u00e7on {i};M\u00fcnchen \u2013 S\u00fcd\n" for i in range(40)
    )
    path.write_bytes(rows.encode("cp1252"))
    fmt = sniff(path)
    assert fmt.encoding == "cp1252"
    assert fmt.delimiter == ";"
    header, data = _read(path)
    assert header == ["first_name", "last_name", "city"]
    assert data[0] == (2, ["Ren\u00e9e", "Gar\u00e7on 0", "M\u00fcnchen \u2013 S\u00fcd"])


def test_utf16_tab_separated_as_excel_unicode_text(tmp_path: Path) -> None:
    path = tmp_path / "unicode.txt"
    path.write_bytes("Email\tPhone\na@example.com\t+1 415 555 0100\n".encode("utf-16"))
    fmt = sniff(path)
    assert (fmt.encoding, fmt.delimiter) == ("utf-16", "\t")
    assert _read(path)[1] == [(2, ["a@example.com", "+1 415 555 0100"])]


def test_semicolon_with_quoted_commas_and_blank_rows(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text('name;note\n"Acme, Inc.";"a; b"\n;\n"Beta";x\n', "utf-8")
    assert sniff(path).delimiter == ";"
    # the blank row keeps its number: errors name the row a spreadsheet shows
    assert _read(path)[1] == [(2, ["Acme, Inc.", "a; b"]), (4, ["Beta", "x"])]


def test_xlsx_streamed_with_typed_cells(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.append(["Email", "Phone", "Employees"])
    sheet.append(["a@example.com", 4155550100, 12.0])
    book.save(path)
    assert sniff(path).kind == "xlsx"
    assert _read(path) == (
        ["Email", "Phone", "Employees"],
        [(2, ["a@example.com", "4155550100", "12"])],
    )


def test_hubspot_contact_export_maps_itself(contact_schema) -> None:  # type: ignore[no-untyped-def]
    header = [
        "Record ID",
        "First Name",
        "Last Name",
        "Email",
        "Phone Number",
        "Lifecycle Stage",
        "Associated Company",
        "Company Name",
        "Create Date",
    ]
    m = auto_mapping(contact_schema, header)
    assert (m.preset, m.source) == ("hubspot", "hubspot")
    assert m.columns["Record ID"] == Target("external_id")
    assert m.columns["First Name"] == Target("first_name")
    assert m.columns["Email"] == Target("emails")
    assert m.columns["Phone Number"] == Target("phones")
    assert m.columns["Lifecycle Stage"] == Target("lifecycle_stage")
    assert m.columns["Associated Company"] == Target("company_id", "name")
    assert "Create Date" in m.skipped


def test_salesforce_contact_export_maps_itself(contact_schema) -> None:  # type: ignore[no-untyped-def]
    header = ["Id", "FirstName", "LastName", "Email", "Phone", "AccountId", "LeadSource", "Foo__c"]
    m = auto_mapping(contact_schema, header)
    assert (m.preset, m.source) == ("salesforce", "salesforce")
    assert m.columns["Id"] == Target("external_id")
    assert m.columns["LastName"] == Target("last_name")
    assert m.columns["AccountId"] == Target("company_id", "external_id")
    assert m.columns["LeadSource"] == Target("lead_source")
    assert m.skipped == ["Foo__c"]


def test_plain_file_maps_by_field_name_and_label(contact_schema) -> None:  # type: ignore[no-untyped-def]
    m = auto_mapping(contact_schema, ["first_name", "Last name", "E-mail", "Job title", "Shoe"])
    assert m.preset == "names"
    assert m.source is None
    assert m.columns["Last name"] == Target("last_name")
    assert m.columns["E-mail"] == Target("email")
    assert m.columns["Job title"] == Target("job_title")
    assert m.skipped == ["Shoe"]


def test_mapping_file_errors_are_all_reported_with_lines(
    tmp_path: Path,
    contact_schema,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(
        "object: contact\n"
        "colums: {}\n"
        "columns:\n"
        "  Cust No: external_id\n"
        "  Given: first_nam\n"
        "  Missing: last_name\n"
        "  Firm: {field: job_title, by: name}\n"
        "  Key: last_activity_at\n",
        "utf-8",
    )
    header = ["Cust No", "Given", "Firm", "Key"]
    with pytest.raises(MappingInvalid) as caught:
        load_mapping(path, contact_schema, header)
    found = {(i.field, i.rule): i.message for i in caught.value.issues}
    assert found[("colums", "unknown_key")].startswith("map.yaml:2:")
    assert found[("Cust No", "source")].startswith("map.yaml:4:")
    assert "no field 'first_nam'" in found[("Given", "unknown_field")]
    assert found[("Missing", "unknown_column")].startswith("map.yaml:6:")
    assert "not a reference" in found[("Firm", "by")]
    assert ("Key", "read_only") in found


def test_a_valid_mapping_file(tmp_path: Path, contact_schema) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "map.yaml"
    path.write_text(
        "source: legacy\ncolumns:\n  No: external_id\n  Mail: email\n"
        "  Firm: {field: company_id, by: name}\n  Junk: skip\n",
        "utf-8",
    )
    m = load_mapping(path, contact_schema, ["No", "Mail", "Firm", "Junk", "Other"])
    assert m.source == "legacy"
    assert m.columns == {
        "No": Target("external_id"),
        "Mail": Target("email"),
        "Firm": Target("company_id", "name"),
    }
    assert m.skipped == ["Junk", "Other"]


@pytest.mark.parametrize(
    "value", ["=1+1", "+14155550100", "-5", "@SUM(A1)", "\tx", "'=x", "''+1", "plain", "'quoted"]
)
def test_neutralisation_round_trips(value: str) -> None:
    cell = to_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert restore(cell) == value
    assert neutralise("safe") == "safe"
