/// A report as a value: a title, a description and a list of blocks, rendered to Markdown and to a
/// self-contained HTML page by two renderers, so both files always say the same thing.
module Analysis.Document

open System
open System.IO
open System.Net
open System.Text
open XPlot.Plotly

/// One piece of a report.
type Block =
    /// A section heading (level 2 or 3).
    | Heading of level: int * text: string
    | Paragraph of text: string
    | Bullets of items: string list
    /// A table: column headers and rows of cell texts.
    | Table of headers: string list * rows: string list list
    /// A chart: drawn in the HTML page; the Markdown names it and points to report.html.
    | Chart of title: string * chart: PlotlyChart

/// A whole report.
type Document = { Title: string; Description: string; Blocks: Block list }

/// How many charts a document holds.
let chartCount (d: Document) = d.Blocks |> List.sumBy (function Chart _ -> 1 | _ -> 0)

/// The document as Markdown (no timestamp, so reruns of the same sweep give the same file).
let toMarkdown (d: Document) =
    let escape (cell: string) = cell.Replace("|", "\\|")
    let sb = StringBuilder()
    sb.Append($"# {d.Title}\n\n{d.Description}\n") |> ignore
    for block in d.Blocks do
        match block with
        | Heading(level, text) -> sb.Append($"\n{String('#', level)} {text}\n") |> ignore
        | Paragraph text -> sb.Append($"\n{text}\n") |> ignore
        | Bullets items ->
            sb.Append('\n') |> ignore
            for i in items do sb.Append($"- {i}\n") |> ignore
        | Table(headers, rows) ->
            let line (cells: string list) = "| " + String.Join(" | ", cells |> List.map escape) + " |\n"
            sb.Append('\n').Append(line headers).Append("|" + String.replicate headers.Length "---|" + "\n") |> ignore
            for r in rows do sb.Append(line r) |> ignore
        | Chart(title, _) -> sb.Append($"\n*Chart: {title} (in report.html).*\n") |> ignore
    sb.ToString()

/// plotly.js as shipped inside the Plotly.NET package (an embedded resource), so the report needs no CDN.
let plotlyJs =
    lazy
        (let assembly = typeof<Plotly.NET.GenericChart>.Assembly
         let name = assembly.GetManifestResourceNames() |> Array.find (fun n -> n.EndsWith ".min.js")
         use stream = assembly.GetManifestResourceStream name |> nonNull
         use reader = new StreamReader(stream)
         name, reader.ReadToEnd())

/// A complete, self-contained HTML page: plotly.js inlined (nothing is fetched), a window.onerror hook
/// that lists script errors in #js-errors, and the given body.
let htmlPage (title: string) (description: string) (body: string) =
    let resource, js = plotlyJs.Value
    let generated = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Globalization.CultureInfo.InvariantCulture)
    let head =
        $"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{WebUtility.HtmlEncode title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}}table{{border-collapse:collapse;margin:1em 0;font-size:90%%}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}#js-errors{{color:#b00}}</style>
<script>window.__errors=[];window.addEventListener('error',function(e){{window.__errors.push(String(e.message));var p=document.getElementById('js-errors');if(p)p.textContent=window.__errors.join('\n');}});</script>
<script>/* plotly.js inlined from the Plotly.NET package resource {resource} */
"""
    let top =
        $"""
</script></head><body>
<h1>{WebUtility.HtmlEncode title}</h1><p>{WebUtility.HtmlEncode description}</p><pre id="js-errors"></pre>
"""
    String.Concat(head, js, top, body, $"<p>Generated {generated} UTC.</p></body></html>")

/// The document as one self-contained HTML page.
let toHtml (d: Document) =
    let sb = StringBuilder()
    let enc (s: string) = WebUtility.HtmlEncode s
    for block in d.Blocks do
        match block with
        | Heading(level, text) -> sb.Append($"<h{level}>{enc text}</h{level}>") |> ignore
        | Paragraph text -> sb.Append($"<p>{enc text}</p>") |> ignore
        | Bullets items ->
            sb.Append("<ul>") |> ignore
            for i in items do sb.Append($"<li>{enc i}</li>") |> ignore
            sb.Append("</ul>") |> ignore
        | Table(headers, rows) ->
            sb.Append("<table><thead><tr>") |> ignore
            for h in headers do sb.Append($"<th>{enc h}</th>") |> ignore
            sb.Append("</tr></thead><tbody>") |> ignore
            for r in rows do
                sb.Append("<tr>") |> ignore
                for c in r do sb.Append($"<td>{enc c}</td>") |> ignore
                sb.Append("</tr>") |> ignore
            sb.Append("</tbody></table>") |> ignore
        | Chart(_, chart) -> sb.Append("<div class=\"chart\">").Append(chart.GetInlineHtml()).Append("</div>") |> ignore
    htmlPage d.Title d.Description (sb.ToString())
