/* doc.c — the report written twice at once, as Markdown (REPORT.md) and static HTML (REPORT.html), so the
 * two can never disagree and no Markdown-to-HTML converter is needed. All text is plain text, much of it
 * from records (shape names, verdicts, the machine), so both renderings escape every character their
 * format would read as markup: no record can add HTML, a link or a table cell to either. */
#include "plots/plots.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

static void html_escaped(FILE *f, const char *text)
{
    for (; *text != '\0'; text++) {
        switch (*text) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*text, f);
        }
    }
}

/* Plain text in Markdown: a backslash before each character that would start markup (raw HTML or an
 * entity, a link, a code span, a table cell's end), and line breaks as spaces (a new line could start a
 * heading or an HTML block). */
static void md_escaped(FILE *f, const char *text)
{
    for (; *text != '\0'; text++) {
        if (strchr("\\`[]<>&|", *text) != NULL)
            fputc('\\', f);
        fputc(*text == '\n' || *text == '\r' ? ' ' : *text, f);
    }
}

static void close_list(sb_doc *doc)
{
    if (doc->in_list) {
        fputs("</ul>\n", doc->html);
        fputc('\n', doc->md);
        doc->in_list = false;
    }
}

void sb_doc_begin(sb_doc *doc, const char *title)
{
    fputs("# ", doc->md);
    md_escaped(doc->md, title);
    fputs("\n\n", doc->md);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", doc->html);
    html_escaped(doc->html, title);
    fputs("</title>\n<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;line-height:1.45}"
          "table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.25em .6em;"
          "text-align:left}.r{text-align:right}img{max-width:100%}"
          "figcaption{color:#444}</style></head><body>\n<h1>",
          doc->html);
    html_escaped(doc->html, title);
    fputs("</h1>\n", doc->html);
}

void sb_doc_end(sb_doc *doc)
{
    close_list(doc);
    fputs("</body></html>\n", doc->html);
}

void sb_doc_heading(sb_doc *doc, int level, const char *text)
{
    close_list(doc);
    fprintf(doc->md, "%.*s ", level, "######");
    md_escaped(doc->md, text);
    fputs("\n\n", doc->md);
    fprintf(doc->html, "<h%d>", level);
    html_escaped(doc->html, text);
    fprintf(doc->html, "</h%d>\n", level);
}

void sb_doc_text(sb_doc *doc, bool bullet, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (!bullet) {
        close_list(doc);
        md_escaped(doc->md, text);
        fputs("\n\n", doc->md);
        fputs("<p>", doc->html);
        html_escaped(doc->html, text);
        fputs("</p>\n", doc->html);
        return;
    }
    if (!doc->in_list)
        fputs("<ul>\n", doc->html);
    doc->in_list = true;
    fputs("- ", doc->md);
    md_escaped(doc->md, text);
    fputc('\n', doc->md);
    fputs("<li>", doc->html);
    html_escaped(doc->html, text);
    fputs("</li>\n", doc->html);
}

/* One cell in both renderings: `tag` th or td, right-aligned in HTML when its column holds numbers. */
static void cell(sb_doc *doc, const char *tag, int column, const char *text)
{
    fputs("| ", doc->md);
    md_escaped(doc->md, text);
    fputc(' ', doc->md);
    fprintf(doc->html, "<%s%s>", tag, doc->align[column] == 'r' ? " class=\"r\"" : "");
    html_escaped(doc->html, text);
    fprintf(doc->html, "</%s>", tag);
}

void sb_doc_table(sb_doc *doc, const char *align, const char *const *headers)
{
    close_list(doc);
    snprintf(doc->align, sizeof doc->align, "%s", align);
    const int columns = (int)strlen(doc->align);
    fputs("<table>\n<tr>", doc->html);
    for (int i = 0; i < columns; i++)
        cell(doc, "th", i, headers[i]);
    fputs("|\n", doc->md);
    for (int i = 0; i < columns; i++)
        fputs(doc->align[i] == 'r' ? "|--:" : "|:--", doc->md);
    fputs("|\n", doc->md);
    fputs("</tr>\n", doc->html);
}

void sb_doc_row(sb_doc *doc, const char *const *cells)
{
    fputs("<tr>", doc->html);
    for (int i = 0; doc->align[i] != '\0'; i++)
        cell(doc, "td", i, cells[i]);
    fputs("|\n", doc->md);
    fputs("</tr>\n", doc->html);
}

void sb_doc_table_end(sb_doc *doc)
{
    fputc('\n', doc->md);
    fputs("</table>\n", doc->html);
    doc->align[0] = '\0';
}

void sb_doc_image(sb_doc *doc, const char *src, const char *caption)
{
    close_list(doc);
    fputs("![", doc->md);
    md_escaped(doc->md, caption);
    fprintf(doc->md, "](%s)\n\n*", src); /* src: a picture's path under plots/, from the code */
    md_escaped(doc->md, caption);
    fputs("*\n\n", doc->md);
    fputs("<figure><img src=\"", doc->html);
    html_escaped(doc->html, src);
    fputs("\" alt=\"", doc->html);
    html_escaped(doc->html, caption);
    fputs("\"><figcaption>", doc->html);
    html_escaped(doc->html, caption);
    fputs("</figcaption></figure>\n", doc->html);
}

const char *sb_doc_number(sb_doc_cell out, double value, const char *format)
{
    if (isnan(value))
        snprintf(out, sizeof(sb_doc_cell), "—");
    else
        snprintf(out, sizeof(sb_doc_cell), format, value);
    return out;
}

const char *sb_doc_sig(sb_doc_cell out, double value, int digits)
{
    if (isnan(value))
        return sb_doc_number(out, value, "%f");
    /* The decimals that leave `digits` significant ones; the integer digits of a larger number all stay. */
    const int magnitude = value == 0 || !isfinite(value) ? 0 : (int)floor(log10(fabs(value)));
    const int decimals = digits - 1 - magnitude > 0 ? digits - 1 - magnitude : 0;
    snprintf(out, sizeof(sb_doc_cell), "%.*f", decimals, value);
    return out;
}

const char *sb_doc_p(sb_doc_cell out, double p)
{
    if (p < 1e-4)
        return strcpy(out, "< 0.0001");
    return sb_doc_sig(out, p, 2);
}
