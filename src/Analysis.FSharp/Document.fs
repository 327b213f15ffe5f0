/// A report as a value: a title, a description and a list of blocks, rendered to Markdown and to a
/// self-contained HTML page by two renderers, so both files always say the same thing. The HTML page has a
/// table of contents, tables sortable by clicking a header (a few lines of inline script, nothing fetched),
/// and cells coloured by the direction of a significant difference.
module Analysis.Document

open System
open System.IO
open System.Net
open System.Text
open System.Text.RegularExpressions
open XPlot.Plotly

/// How a table cell is coloured.
type CellStyle =
    | Plain
    /// A significant improvement over the baseline.
    | Better
    /// A significant deterioration.
    | Worse
    /// Identical on every seed.
    | Tied

/// A table cell: its text, an optional number to sort by, and its colour.
type Cell = { Text: string; Sort: float option; Style: CellStyle }

/// A plain text cell.
let text (s: string) = { Text = s; Sort = None; Style = Plain }

/// A cell that sorts by a number.
let sortCell (s: string) (v: float) = { Text = s; Sort = (if Double.IsNaN v then None else Some v); Style = Plain }

/// One piece of a report.
type Block =
    /// A section heading (level 2 or 3); the HTML gives it an anchor for the table of contents.
    | Heading of level: int * text: string
    | Paragraph of text: string
    | Bullets of items: string list
    /// Key-value lines (provenance).
    | Definitions of items: (string * string) list
    /// Links to files beside the report: (text, relative address, what it holds).
    | Links of items: (string * string * string) list
    /// A table: column headers and rows of cells; sortable in the HTML page.
    | Table of headers: string list * rows: Cell list list
    /// A chart: drawn in the HTML page; the Markdown names it and points to report.html.
    | Chart of title: string * chart: PlotlyChart
    /// The table of contents: every level-2 heading, linked.
    | Contents

/// A whole report.
type Document = { Title: string; Description: string; Blocks: Block list }

/// A table of plain text cells.
let textTable (headers: string list) (rows: string list list) = Table(headers, rows |> List.map (List.map text))

/// How many charts a document holds.
let chartCount (d: Document) = d.Blocks |> List.sumBy (function Chart _ -> 1 | _ -> 0)

/// The anchor of a heading: lower case, letters and digits joined by '-', numbered when repeated.
let anchors (d: Document) =
    let seen = Collections.Generic.Dictionary<string, int>()
    [ for b in d.Blocks do
        match b with
        | Heading(level, t) ->
            let slug = Regex.Replace(t.ToLowerInvariant(), "[^a-z0-9]+", "-").Trim('-')
            let slug = if slug = "" then "section" else slug
            let n = match seen.TryGetValue slug with | true, n -> n + 1 | _ -> 1
            seen[slug] <- n
            yield level, t, (if n = 1 then slug else $"{slug}-{n}")
        | _ -> () ]

/// The document as Markdown (no timestamp, so reruns of the same sweep give the same file).
let toMarkdown (d: Document) =
    let escape (cell: string) = cell.Replace("|", "\\|")
    let headings = anchors d
    let mutable next = 0
    let sb = StringBuilder()
    sb.Append($"# {d.Title}\n\n{d.Description}\n") |> ignore
    for block in d.Blocks do
        match block with
        | Heading(level, t) ->
            let _, _, anchor = headings[next]
            next <- next + 1
            sb.Append($"\n<a id=\"{anchor}\"></a>\n{String('#', level)} {t}\n") |> ignore
        | Paragraph t -> sb.Append($"\n{t}\n") |> ignore
        | Bullets items ->
            sb.Append('\n') |> ignore
            for i in items do sb.Append($"- {i}\n") |> ignore
        | Definitions items ->
            sb.Append('\n') |> ignore
            for k, v in items do sb.Append($"- **{k}**: {v}\n") |> ignore
        | Links items ->
            sb.Append('\n') |> ignore
            for t, href, what in items do sb.Append($"- [{t}]({href}): {what}\n") |> ignore
        | Table(headers, rows) ->
            let line (cells: string list) = "| " + String.Join(" | ", cells |> List.map escape) + " |\n"
            sb.Append('\n').Append(line headers).Append("|" + String.replicate headers.Length "---|" + "\n") |> ignore
            for r in rows do
                let marked = r |> List.map (fun c -> match c.Style with Better | Worse -> $"**{c.Text}**" | _ -> c.Text)
                sb.Append(line marked) |> ignore
        | Chart(title, _) -> sb.Append($"\n*Chart: {title} (in report.html).*\n") |> ignore
        | Contents ->
            sb.Append('\n') |> ignore
            for level, t, anchor in headings do
                if level = 2 then sb.Append($"- [{t}](#{anchor})\n") |> ignore
    sb.ToString()

/// plotly.js as shipped inside the Plotly.NET package (an embedded resource), so the report needs no CDN.
let plotlyJs =
    lazy
        (let assembly = typeof<Plotly.NET.GenericChart>.Assembly
         let name = assembly.GetManifestResourceNames() |> Array.find (fun n -> n.EndsWith ".min.js")
         use stream = assembly.GetManifestResourceStream name |> nonNull
         use reader = new StreamReader(stream)
         name, reader.ReadToEnd())

/// Sorting by a click on a header: numbers by data-sort, else text; a second click reverses. With
/// #selftest in the address, the page clicks, twice, the header of the first column of the first sortable
/// table that holds different numbers, and writes what it saw into #selftest (the headless-browser test
/// reads it).
let private sortScript = """
<script>
function wbSort(th){var table=th.closest('table'),idx=Array.prototype.indexOf.call(th.parentNode.children,th),body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=th.getAttribute('data-order')!=='asc';
rows.sort(function(a,b){var x=a.cells[idx],y=b.cells[idx],xv=x.getAttribute('data-sort'),yv=y.getAttribute('data-sort'),c;
if(xv!==null&&yv!==null){c=parseFloat(xv)-parseFloat(yv);}else if(xv!==null){c=-1;}else if(yv!==null){c=1;}else{c=x.textContent.localeCompare(y.textContent);}return asc?c:-c;});
rows.forEach(function(r){body.appendChild(r);});th.parentNode.querySelectorAll('th').forEach(function(h){h.removeAttribute('data-order');});th.setAttribute('data-order',asc?'asc':'desc');}
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){wbSort(th);});});
if(location.hash==='#selftest'){var t=document.querySelector('table.sortable'),out={tables:document.querySelectorAll('table.sortable').length};
if(t){var k=1,col=function(){return Array.prototype.map.call(t.tBodies[0].rows,function(r){return r.cells[k].getAttribute('data-sort');});};
while(k<t.tHead.rows[0].cells.length-1&&col().filter(function(v,i,a){return a.indexOf(v)===i;}).length<2){k++;}var th=t.tHead.rows[0].cells[k];out.column=th.textContent;
out.before=col();th.dispatchEvent(new MouseEvent('click',{bubbles:true}));out.first=col();th.dispatchEvent(new MouseEvent('click',{bubbles:true}));out.second=col();}
document.getElementById('selftest').textContent=JSON.stringify(out);}
</script>"""

/// A complete, self-contained HTML page: plotly.js inlined (nothing is fetched), a window.onerror hook
/// that lists script errors in #js-errors, the given body and the table-sorting script.
let htmlPage (title: string) (description: string) (body: string) =
    let resource, js = plotlyJs.Value
    let generated = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", Globalization.CultureInfo.InvariantCulture)
    let head =
        $"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{WebUtility.HtmlEncode title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}}table{{border-collapse:collapse;margin:1em 0;font-size:88%%}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right;white-space:nowrap}}td:first-child,th:first-child{{text-align:left}}table.sortable th{{cursor:pointer;background:#f4f4f4}}table.sortable th[data-order=asc]::after{{content:" \25B2"}}table.sortable th[data-order=desc]::after{{content:" \25BC"}}td.better{{background:#d6eaf8}}td.worse{{background:#f9dcdc}}td.tied{{background:#eeeeee}}nav.toc li{{margin:0.1em 0}}dl.provenance dt{{font-weight:600}}div.table-wrap{{overflow-x:auto;max-width:100%%}}#js-errors{{color:#b00}}</style>
<script>window.__errors=[];window.addEventListener('error',function(e){{window.__errors.push(String(e.message));var p=document.getElementById('js-errors');if(p)p.textContent=window.__errors.join('\n');}});</script>
<script>/* plotly.js inlined from the Plotly.NET package resource {resource} */
"""
    let top =
        $"""
</script></head><body>
<h1>{WebUtility.HtmlEncode title}</h1><p>{WebUtility.HtmlEncode description}</p><pre id="js-errors"></pre><pre id="selftest"></pre>
"""
    String.Concat(head, js, top, body, sortScript, $"<p>Generated {generated} UTC.</p></body></html>")

/// A chart's inline HTML with every "</" inside its script written "<\/" (the same string to JavaScript), so
/// a label that contains "</script>" (a CSV column name, say) cannot end the script and inject markup.
let safeChartHtml (html: string) =
    let start = html.IndexOf("<script", StringComparison.Ordinal)
    let finish = html.LastIndexOf("</script>", StringComparison.Ordinal)
    if start < 0 || finish < start then html
    else
        let bodyStart = html.IndexOf('>', start) + 1
        html.Substring(0, bodyStart) + html.Substring(bodyStart, finish - bodyStart).Replace("</", "<\\/") + html.Substring finish

/// The document as one self-contained HTML page.
let toHtml (d: Document) =
    let sb = StringBuilder()
    let enc (s: string) = WebUtility.HtmlEncode s
    let headings = anchors d
    let mutable next = 0
    for block in d.Blocks do
        match block with
        | Heading(level, t) ->
            let _, _, anchor = headings[next]
            next <- next + 1
            sb.Append($"<h{level} id=\"{anchor}\">{enc t}</h{level}>") |> ignore
        | Paragraph t -> sb.Append($"<p>{enc t}</p>") |> ignore
        | Bullets items ->
            sb.Append("<ul>") |> ignore
            for i in items do sb.Append($"<li>{enc i}</li>") |> ignore
            sb.Append("</ul>") |> ignore
        | Definitions items ->
            sb.Append("<dl class=\"provenance\">") |> ignore
            for k, v in items do sb.Append($"<dt>{enc k}</dt><dd>{enc v}</dd>") |> ignore
            sb.Append("</dl>") |> ignore
        | Links items ->
            sb.Append("<ul class=\"files\">") |> ignore
            for t, href, what in items do sb.Append($"<li><a href=\"{enc href}\">{enc t}</a>: {enc what}</li>") |> ignore
            sb.Append("</ul>") |> ignore
        | Table(headers, rows) ->
            sb.Append("<div class=\"table-wrap\"><table class=\"sortable\"><thead><tr>") |> ignore
            for h in headers do sb.Append($"<th title=\"click to sort\">{enc h}</th>") |> ignore
            sb.Append("</tr></thead><tbody>") |> ignore
            for r in rows do
                sb.Append("<tr>") |> ignore
                for c in r do
                    let sort = match c.Sort with Some v -> $" data-sort=\"{v.ToString(Globalization.CultureInfo.InvariantCulture)}\"" | None -> ""
                    let cls = match c.Style with Better -> " class=\"better\"" | Worse -> " class=\"worse\"" | Tied -> " class=\"tied\"" | Plain -> ""
                    sb.Append($"<td{sort}{cls}>{enc c.Text}</td>") |> ignore
                sb.Append("</tr>") |> ignore
            sb.Append("</tbody></table></div>") |> ignore
        | Chart(_, chart) -> sb.Append("<div class=\"chart\">").Append(safeChartHtml (chart.GetInlineHtml())).Append("</div>") |> ignore
        | Contents ->
            sb.Append("<nav class=\"toc\"><h2>Contents</h2><ul>") |> ignore
            for level, t, anchor in headings do
                if level = 2 then sb.Append($"<li><a href=\"#{anchor}\">{enc t}</a></li>") |> ignore
            sb.Append("</ul></nav>") |> ignore
    htmlPage d.Title d.Description (sb.ToString())
