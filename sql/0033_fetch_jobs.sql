-- Jobs for every free slot of a worker in one round trip (bot/worker/queue_worker.py): the
-- queue's own fetch, once per slot inside one statement, so its rules (priority, order, one
-- running job per lock) hold exactly as over as many round trips.
CREATE OR REPLACE FUNCTION advisor_bot_fetch_jobs(
    target_queue_names character varying[], p_worker_id bigint, how_many integer
) RETURNS SETOF procrastinate_jobs
    LANGUAGE plpgsql
AS $$
DECLARE
    found procrastinate_jobs;
BEGIN
    FOR i IN 1 .. how_many LOOP
        found := procrastinate_fetch_job_v2(target_queue_names, p_worker_id);
        EXIT WHEN found.id IS NULL;
        RETURN NEXT found;
    END LOOP;
END;
$$;
