"""Moving records in and out: file readers, column mapping, crash-safe imports with undo, and
exports safe to open in a spreadsheet."""
