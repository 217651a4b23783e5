-- A job's end and its slot's next job in one round trip (bot/worker/queue_worker.py): the
-- queue's own finish, then the queue's own fetch (sql/0033) for the slot the job frees, in one
-- statement. The finish comes first, so the next message of the same conversation (same lock)
-- can be the job fetched.
CREATE OR REPLACE FUNCTION advisor_bot_finish_and_fetch(
    finished_id bigint, end_status procrastinate_job_status, delete_job boolean,
    target_queue_names character varying[], p_worker_id bigint, how_many integer
) RETURNS SETOF procrastinate_jobs
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM procrastinate_finish_job_v1(finished_id, end_status, delete_job);
    RETURN QUERY SELECT * FROM advisor_bot_fetch_jobs(target_queue_names, p_worker_id, how_many);
END;
$$;
