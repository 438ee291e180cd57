-- wrk script: POST /payments with a fresh UUID v4 each time; delay() paces each connection (100 ms = 10 req/s)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local function uuid()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (string.gsub(t, "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end
request = function()
  return wrk.format(nil, "/payments", nil, '{"correlationId":"' .. uuid() .. '","amount":20.05}')
end
delay = function() return 100 end
