-- The complete P2P flow for wrk (https://github.com/wg/wrk), an independent check of
-- `aqsha bench`: a token bound to a fresh invoice, then the transfer, card number to card
-- number. Run it with as many threads as connections (`-t 64 -c 64`): each thread then owns
-- one connection and walks token, transfer, token, ... in order, because wrk's Lua sees
-- responses per thread, not per connection. `run.sh` sets it up; see BENCHMARKS.md.
--
-- Environment (read once per thread): AQSHA_WRK_TERMINAL, AQSHA_WRK_CARDS (card numbers,
-- comma-separated, CVC 123, expiry 12/39), AQSHA_WRK_CLIENT_ID, AQSHA_WRK_CLIENT_SECRET.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

local id, terminal, cards, token_base, step, invoice, token, seq
-- Global, so that `done` can read each thread's count with `thread:get`.
failures = 0
local prefix = tostring(os.time() % 100000000)

function init(args)
   id = wrk.thread:get("id")
   terminal = os.getenv("AQSHA_WRK_TERMINAL")
   cards = {}
   for pan in string.gmatch(os.getenv("AQSHA_WRK_CARDS"), "[^,]+") do
      table.insert(cards, pan)
   end
   token_base = "grant_type=client_credentials&scope=transfer"
      .. "&client_id=" .. os.getenv("AQSHA_WRK_CLIENT_ID")
      .. "&client_secret=" .. os.getenv("AQSHA_WRK_CLIENT_SECRET")
      .. "&amount=10&currency=KZT&terminal=" .. terminal
   step, seq, failures = "token", 0, 0
   math.randomseed(os.time() + id)
end

local function token_request()
   seq = seq + 1
   -- The run's prefix, then the last six digits, which must be unique per terminal and day:
   -- the thread (2 digits) and its own counter (4 digits). Hence at most 100 connections, and
   -- run.sh makes a fresh terminal for every run.
   invoice = string.format("%s%02d%04d", prefix, id % 100, seq % 10000)
   return wrk.format("POST", "/oauth2/token",
      { ["Content-Type"] = "application/x-www-form-urlencoded" },
      token_base .. "&invoiceID=" .. invoice)
end

local function transfer_request()
   local n = #cards
   local s = math.random(n)
   local r = (s + math.random(n - 1) - 1) % n + 1
   local body = string.format(
      '{"order":{"amount":10,"currency":"KZT","id":"%s","terminalId":"%s","description":"wrk"},'
      .. '"card":{"sender":{"transferType":"TYPEPAN","cardCred":"%s","cvc":"123",'
      .. '"expire":{"month":"12","year":"39"}},"receiver":{"transferType":"TYPEPAN","cardCred":"%s"}}}',
      invoice, terminal, cards[s], cards[r])
   return wrk.format("POST", "/payments/cards/auth",
      { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end

function request()
   if step == "token" then return token_request() end
   return transfer_request()
end

function response(status, headers, body)
   if step == "token" then
      token = status == 200 and string.match(body, '"access_token"%s*:%s*"([^"]+)"') or nil
      if token then step = "transfer" else failures = failures + 1; if failures == 1 then io.write("token: " .. status .. " " .. body .. "\n") end end
   else
      if status ~= 200 or not string.find(body, '"CHARGE"', 1, true) then
         failures = failures + 1
         if failures == 1 then io.write("transfer: " .. status .. " " .. body .. "\n") end
      end
      step = "token"
   end
end

function done(summary, latency, requests)
   local failed = 0
   for _, t in ipairs(threads) do failed = failed + (t:get("failures") or 0) end
   local seconds = summary.duration / 1e6
   io.write(string.format("flows per second (requests / 2): %.0f\n", summary.requests / 2 / seconds))
   io.write(string.format("failed flows: %d\n", failed))
   for _, p in ipairs({ 50, 90, 99 }) do
      io.write(string.format("per request p%d: %.2f ms\n", p, latency:percentile(p) / 1000))
   end
end
