"""The README's analyst schema is generated from the table specs; this keeps it from drifting."""

from pathlib import Path

from wix_pipelines.warehouse import describe_tables

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_schema_section_matches_the_warehouse_tables() -> None:
    text = README.read_text()
    begin = text.index("<!-- BEGIN GENERATED SCHEMA")
    body = text[text.index("-->", begin) + 3 : text.index("<!-- END GENERATED SCHEMA -->")].strip()
    expected = describe_tables().strip().replace("### `", "#### `")
    assert body == expected, "regenerate the README schema section from describe_tables()"
