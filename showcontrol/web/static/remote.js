// The operator remote: transport, the set list (tap a song, or NEXT/PREVIOUS, to make it standby: the
// `song` command, as the keys > < NN# do), cues around the playhead and every output's health. Commands go to
// the engine through the broker ({prefix}command) with the show's PIN; the engine checks it and answers.
"use strict";
import { connectLive, linkBanner } from "/static/live.js";

const $ = (id) => document.getElementById(id);
const view = { link: "connecting", engine: "unknown", transport: "stopped", song: "", bar: null, beat: null, beatAt: null,
  status: null, statusAt: null };
let live = null;
const mine = new Set();  // ids of this page's commands: only their replies are shown here
let pin = localStorage.getItem("showcontrol-pin") || "";
let pinRefused = false;  // the engine said no: stop asking for status until the PIN is changed
$("pin").value = pin;

function send(command, args = []) {
  if (!live) return;
  if (!pin && command !== "status") { say(false, "enter the show's PIN first"); return; }
  mine.add(live.send(command, args, pin));
}

function say(ok, text) {
  $("reply").textContent = text;
  $("reply").className = `reply ${ok ? "ok" : "error"}`;
}

function apply(topic, data, now) {
  if (topic === "status") view.engine = data.value || "unknown";
  else if (topic === "state/transport") { view.transport = data.state || view.transport; view.song = data.song || view.song; }
  else if (topic === "state/position") Object.assign(view, { bar: data.bar, beat: data.beat, beatAt: now });
  else if (topic === "state/setlist") drawSetList(Array.isArray(data.songs) ? data.songs : []);
  else if (topic === "reply" && mine.has(data.id)) {
    mine.delete(data.id);
    if (data.state) { view.status = data.state; view.statusAt = now; drawStatus(); }
    else say(data.ok, data.ok ? data.text : data.error);
    pinRefused = !data.ok && String(data.error).startsWith("wrong or missing token");
  }
}

function drawSetList(songs) {  // from the engine's retained state/setlist: every phone gets it from the broker
  $("setlist").replaceChildren(...songs.map((song) => {
    const item = document.createElement("li");
    item.className = song.playing ? "playing" : song.standby ? "standby" : "";
    const button = document.createElement("button");
    const number = document.createElement("span"), title = document.createElement("span"), tag = document.createElement("span");
    number.className = "number"; number.textContent = song.number;
    title.textContent = song.title || song.id;
    tag.className = "tag"; tag.textContent = song.playing ? "playing" : song.standby ? "standby" : "";
    button.append(number, title);
    if (song.follows) {  // a segue: it starts by itself when the song before it ends
      const follows = document.createElement("span");
      follows.className = "follows"; follows.textContent = "→ follows"; follows.title = "starts by itself when the song before it ends";
      button.append(follows);
    }
    button.append(tag);
    button.onclick = () => send("song", [String(song.number)]);
    item.append(button);
    return item;
  }));
}

function drawStatus() {
  const status = view.status;
  $("cues").replaceChildren(...(status ? status.cues : []).map((cue) => {
    const item = document.createElement("li");
    item.className = cue.next ? "next" : "done";
    item.textContent = `${cue.at}  ${cue.output}  ${cue.name}`;
    return item;
  }));
  $("outputs").replaceChildren(...Object.entries(status ? status.outputs : {}).map(([name, out]) => {
    const item = document.createElement("li");
    item.className = `health ${out.health}`;
    item.textContent = `${name}: ${out.health}${out.error ? ` (${out.error})` : ""}`;
    return item;
  }));
  if (status) {
    const audio = document.createElement("li");
    audio.className = `health ${status.audio === "ok" ? "up" : "down"}`;
    audio.textContent = `audio: ${status.audio}`;
    $("outputs").prepend(audio);
    $("sections").replaceChildren(...status.sections.map((section) => {
      const button = document.createElement("button");
      button.textContent = section.name;
      button.onclick = () => send("locate", [section.name]);
      return button;
    }));
  }
}

function draw() {
  const now = performance.now();
  const live = linkBanner(view.link, view.engine, view.transport, view.beatAt, now);
  const banner = live && live.level === "bad" ? live
    : !pin || pinRefused ? { text: pinRefused ? "PIN refused: enter the show's PIN below" : "enter the show's PIN below", level: "warn" }
    : live || (view.statusAt === null ? { text: "waiting for the show's answer…", level: "warn" } : null);
  $("banner").hidden = !banner;
  if (banner) { $("banner").textContent = banner.text; $("banner").className = `banner ${banner.level}`; }
  const playing = view.transport !== "stopped";
  const bar = playing ? view.bar : (view.status ? view.status.cued_bar : null);
  $("song").textContent = view.song || (view.status ? view.status.song : "—");
  $("state").textContent = view.transport;
  $("state").className = `state ${view.transport}`;
  $("where").textContent = `bar ${bar ?? "–"}${playing && view.beat ? `.${view.beat}` : ""}`;
  $("pause").textContent = view.transport === "paused" ? "RESUME" : "PAUSE";
  $("go").disabled = view.link !== "connected" || view.transport !== "stopped";  // the engine refuses a GO while playing anyway
  requestAnimationFrame(draw);
}

$("go").onclick = () => send("go");
$("stop").onclick = () => send("stop");
$("pause").onclick = () => send(view.transport === "paused" ? "resume" : "pause");
$("next").onclick = () => send("song", ["next"]);
$("previous").onclick = () => send("song", ["previous"]);
$("locate").onclick = () => { if ($("bar").value) send("locate", [Number($("bar").value)]); };
$("pin-form").onsubmit = (event) => {
  event.preventDefault();
  pin = $("pin").value.trim();
  pinRefused = false;
  localStorage.setItem("showcontrol-pin", pin);
  send("status");
};
connectLive((topic, data, now) => apply(topic, data, now), (link) => { view.link = link; if (link === "connected") send("status"); })
  .then((connection) => { live = connection; send("status"); });
setInterval(() => { if (pin && !pinRefused) send("status"); }, 2000);
requestAnimationFrame(draw);
