"""Documents the county library sends: saksframlegg, agreement, checklist and reports.

`context` holds the plain data a document needs, `render` turns it into HTML and DOCX.
"""
