// SMS simulator: posts each text to /dev/sms/send, which signs it as Twilio would and forwards
// it to /twilio/sms; the TwiML replies come back as bubbles. Text via textContent only.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var button = document.getElementById("send");
  var from = document.getElementById("from");
  var status = document.getElementById("status");
  var busy = false;

  function bubble(kind, who, text) {
    var item = document.createElement("li");
    item.className = "msg msg-" + kind;
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    var body = document.createElement("p");
    body.textContent = text;
    item.appendChild(label);
    item.appendChild(body);
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    window.scrollTo(0, document.body.scrollHeight);
    return item;
  }

  function setStatus(text) {
    status.textContent = text || "";
    status.hidden = !text;
  }

  function send() {
    var text = input.value.trim();
    if (!text || busy) { input.focus(); return; }
    busy = true;
    button.setAttribute("aria-disabled", "true");
    var mine = bubble("me", from.value, text);
    input.value = "";
    input.focus();
    var data = new URLSearchParams();
    data.set("from", from.value);
    data.set("body", text);
    fetch("/dev/sms/send", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", Accept: "application/json" },
      body: data,
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          if (!response.ok) throw new Error(json.message || "Sending failed.");
          return json;
        });
      })
      .then(function (json) {
        setStatus("");
        if (!json.replies.length) bubble("system", "Notice", "(no reply: the bot stays silent here)");
        json.replies.forEach(function (reply) { bubble("bot", "Reply", reply); });
      })
      .catch(function (error) {
        mine.classList.add("msg-failed");
        setStatus(error.message);
      })
      .then(function () {
        busy = false;
        button.removeAttribute("aria-disabled");
      });
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  from.addEventListener("change", function () {
    log.textContent = "";
    bubble("system", "Notice", "Now texting as " + from.value + ".");
    input.focus();
  });
  input.focus();
})();
