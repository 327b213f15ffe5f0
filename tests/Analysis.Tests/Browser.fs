/// Headless Chromium (Debian's package; test.sh installs it) with the network off: loads a page, runs its
/// scripts with a virtual time budget and returns the resulting DOM and the console lines.
module Analysis.Tests.Browser

open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto

let chromium () =
    [ "/usr/bin/chromium"; "/usr/bin/chromium-browser"; "/usr/bin/google-chrome" ] |> List.tryFind File.Exists

/// The DOM after the page's scripts ran, and every console line Chromium logged.
let render (url: string) =
    match chromium () with
    | None -> failtest "Chromium is not installed: test.sh installs Debian's chromium package (apt-get install chromium)"
    | Some exe ->
        let profile = Directory.CreateTempSubdirectory("wb-chromium").FullName
        let args =
            [ "--headless"; "--no-sandbox"; "--disable-gpu"; "--disable-quic"; "--no-first-run"; "--disable-background-networking"
              "--disable-component-update"; "--disable-sync"; $"--user-data-dir={profile}"
              "--host-resolver-rules=MAP * ~NOTFOUND"; "--proxy-server=127.0.0.1:9"   // network off
              "--enable-logging=stderr"; "--v=0"; "--virtual-time-budget=20000"; "--dump-dom"; url ]
        let info = ProcessStartInfo(exe, args, RedirectStandardOutput = true, RedirectStandardError = true)
        use proc = Process.Start info |> nonNull
        let err = proc.StandardError.ReadToEndAsync()
        let dom = proc.StandardOutput.ReadToEnd()
        Expect.isTrue (proc.WaitForExit 120_000) "Chromium finished within 2 minutes"
        dom, err.Result.Split('\n') |> Array.filter (fun l -> l.Contains ":CONSOLE") |> List.ofArray

/// Checks a report page rendered with #selftest: no script error or console line, every contents link has
/// its target, and the page's click on a sortable column sorted it ascending, then descending.
let expectContentsAndSorting (dom: string) (console: string list) =
    Expect.isEmpty console "no console message (errors, warnings or logs)"
    Expect.stringContains dom "<pre id=\"js-errors\"></pre>" "window.onerror caught nothing"
    let toc = Regex.Match(dom, "<nav class=\"toc\">(.*?)</nav>", RegexOptions.Singleline)
    Expect.isTrue toc.Success "the page has a table of contents"
    let targets = [ for m in Regex.Matches(toc.Groups[1].Value, "href=\"#([^\"]+)\"") -> m.Groups[1].Value ]
    Expect.isGreaterThanOrEqual targets.Length 4 "provenance, protocol, at a glance and a section per task"
    for t in targets do Expect.stringContains dom $"id=\"{t}\"" $"the contents link #{t} has its target"
    let result = Regex.Match(dom, "<pre id=\"selftest\">([^<]*)</pre>")
    Expect.isTrue (result.Success && result.Groups[1].Value.Length > 0) "the page ran its sorting self-test"
    let json = System.Text.Json.JsonDocument.Parse(System.Net.WebUtility.HtmlDecode result.Groups[1].Value |> nonNull).RootElement
    let column (name: string) = [ for v in json.GetProperty(name).EnumerateArray() -> float (v.GetString() |> nonNull) ]
    Expect.isGreaterThan (json.GetProperty("tables").GetInt32()) 1 "the tables are sortable"
    let before, first, second = column "before", column "first", column "second"
    Expect.isGreaterThan (List.distinct before).Length 1 "the clicked column holds different values"
    Expect.equal first (List.sort before) "the first click sorts ascending"
    Expect.equal second (List.sortDescending before) "the second click sorts descending"
    Expect.isTrue (first <> before || second <> before) "a click changed the order"
