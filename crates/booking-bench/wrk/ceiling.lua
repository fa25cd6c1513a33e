-- The ceiling's request: the same booking body, posted to the minimal handler.
wrk.method = "POST"
wrk.path = "/schedule"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"client_name":"Load Test","date":"2040-01-01","time":"09:00","resource":"r0"}'
