% Neurofeedback for MATLAB, fed by analysis_listener's results server on this PC.
% Each TR: wait (long-poll) for that TR's result, show it, and send a response back
% (the project reads it with get_response / get_all_responses).
% Works with plain MATLAB (webread/webwrite, R2015a or later); replace the fprintf
% with your Psychtoolbox drawing.

base = 'http://127.0.0.1:8890';
% The listener's --out-dir: it writes this start's token there (needed for responses).
outDir = 'C:/feedback';
token = strtrim(fileread(fullfile(outDir, 'results-token')));
run = 1;
firstTR = 1;
numTRs = 10;
waitMs = 5000;

readOptions = weboptions('Timeout', waitMs / 1000 + 10, 'ContentType', 'json');
sendOptions = weboptions('MediaType', 'application/json', 'Timeout', 10, ...
    'HeaderFields', {'X-Listener-Token', token});

for tr = firstTR:(firstTR + numTRs - 1)
    url = sprintf('%s/results/%d/%d?wait_ms=%d', base, run, tr, waitMs);
    try
        result = webread(url, readOptions);
    catch err
        % 404: no result for this TR within waitMs.
        fprintf('TR %d: no result (%s)\n', tr, err.message);
        continue
    end
    value = result.value;
    if isstruct(value) && isfield(value, 'feedback')
        value = value.feedback;
    end
    fprintf('TR %d: feedback %.4f\n', tr, value);

    % The participant's response for this TR, e.g. from KbCheck.
    response = struct('run', run, 'tr', tr, 'response', struct('key', 'b'));
    webwrite([base '/responses'], response, sendOptions);
end
