"""The console's words in Chinese and English; the language comes from a cookie, else from Accept-Language."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

MESSAGES: dict[str, tuple[str, str]] = {
    # frame
    "app": ("专家服务对接平台", "expertmatch console"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "api_key": ("API 密钥", "API key"),
    "sign_in_help": (
        "请输入管理员为您签发的 API 密钥。密钥只保存在本浏览器的安全 Cookie 中，脚本无法读取。",
        "Enter the API key the programme office gave you. It is kept only in a secure cookie that scripts cannot read.",
    ),
    "signed_in_as": ("当前身份", "Signed in as"),
    "role_admin": ("管理员", "Administrator"),
    "role_enterprise": ("企业", "Enterprise"),
    "role_expert": ("专家", "Specialist"),
    "role_unit": ("派出单位", "Dispatching unit"),
    "role": ("角色", "Role"),
    "language": ("语言", "Language"),
    "api_docs": ("接口文档", "API docs"),
    "bad_key": ("密钥无效或已撤销。", "The key is unknown or revoked."),
    "csrf_failed": (
        "表单已过期，请重新提交。",
        "The form expired (missing or wrong CSRF token); please submit it again.",
    ),
    "session_expired": ("登录已失效，请重新登录。", "Your session has ended; please sign in again."),
    "role_not_served": (
        "此控制台为管理员、企业和专家提供；您的密钥角色可在 API 中使用。",
        "This console serves administrators, enterprises and specialists; use your key with the API.",
    ),
    # navigation
    "nav_demands": ("我的需求", "My demands"),
    "nav_all_demands": ("需求库", "Demands"),
    "nav_experts": ("专家库", "Specialists"),
    "nav_enterprises": ("企业库", "Enterprises"),
    "nav_engagements": ("对接记录", "Engagements"),
    "nav_suggestions": ("推荐需求", "Suggested demands"),
    "nav_interests": ("我的意向", "My interests"),
    "nav_import": ("表格导入", "Import"),
    "nav_rounds": ("双选轮次", "Rounds"),
    "nav_assignments": ("统筹分配", "Assignments"),
    "nav_stats": ("统计", "Figures"),
    # common words
    "id": ("编号", "ID"),
    "name": ("名称", "Name"),
    "title": ("标题", "Title"),
    "status": ("状态", "Status"),
    "region": ("地区", "Region"),
    "industry": ("行业", "Industry"),
    "category": ("类别", "Category"),
    "keywords": ("关键词", "Keywords"),
    "description": ("问题描述", "Description"),
    "headcount": ("需要人数", "Headcount"),
    "on_site": ("需到企业现场", "On site"),
    "budget_cny": ("预算（元）", "Budget (CNY)"),
    "term_months": ("服务期（月）", "Term (months)"),
    "deadline": ("截止日期", "Deadline"),
    "accepted_origins": ("接受的专家来源", "Accepted origins"),
    "any": ("不限", "any"),
    "enterprise": ("企业", "Enterprise"),
    "expert": ("专家", "Specialist"),
    "demand": ("需求", "Demand"),
    "institution": ("单位", "Institution"),
    "origin": ("来源", "Origin"),
    "capacity": ("可服务企业数", "Capacity"),
    "fields": ("专业领域", "Fields"),
    "professional_title": ("职称", "Title"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "none": ("无", "none"),
    "search": ("搜索", "Search"),
    "filter": ("筛选", "Filter"),
    "free_text": ("关键字", "Text"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "page_of": ("第 {start}–{end} 条，共 {total} 条", "{start}–{end} of {total}"),
    "nothing_yet": ("暂无记录。", "Nothing here yet."),
    "save": ("保存", "Save"),
    "cancel": ("取消", "Cancel"),
    "created_at": ("创建时间", "Created"),
    "score": ("匹配度", "Score"),
    "mode": ("方式", "Mode"),
    "open_detail": ("查看", "Open"),
    "back": ("返回", "Back"),
    "comma_list": ("多个用逗号分隔", "separate several with commas"),
    "ids_list": ("编号，用逗号分隔", "ids, separated by commas"),
    "done": ("已完成。", "Done."),
    "error": ("操作未成功", "Not done"),
    # demands
    "new_demand": ("发布新需求", "New demand"),
    "edit_demand": ("修改需求", "Edit demand"),
    "save_draft": ("保存为草稿", "Save as draft"),
    "publish": ("发布", "Publish"),
    "demand_created": ("需求已保存。", "Demand saved."),
    "demand_updated": ("需求已更新。", "Demand updated."),
    "move_to_open": ("提交发布", "Submit (publish)"),
    "move_to_cancelled": ("撤销需求", "Cancel demand"),
    "move_to_closed": ("关闭需求", "Close demand"),
    "status_changed": ("状态已更新。", "Status changed."),
    "submit_for_review": ("提交审核", "Submit for review"),
    "submitted_for_review": ("已提交审核。", "Submitted for review."),
    "review": ("审核", "Review"),
    "reviews": ("审核记录", "Review history"),
    "review_comment": ("审核意见", "Comment"),
    "review_approve": ("通过并发布", "Approve and publish"),
    "review_return": ("退回修改", "Return for changes"),
    "first_demand_hint": (
        "还没有需求。点击“发布新需求”描述您的技术难题，系统会推荐合适的专家并说明理由。",
        "No demands yet. Click 'New demand' to describe your technical problem; "
        "the service then suggests specialists and says why.",
    ),
    "enterprise_id": ("企业编号", "Enterprise id"),
    # suggestions
    "suggestions": ("推荐专家", "Suggested specialists"),
    "suggested_demands": ("为您推荐的需求", "Demands suggested to you"),
    "include_excluded": ("同时显示被规则排除的组合", "Also show pairs a rule excludes"),
    "components": ("得分构成", "Score components"),
    "score_rule": (
        "总分 = 文本相关度 × (文本权重 + Σ 其他因素权重 × 得分)："
        "其他因素只在文本相关度之内调整总分，所以总分不高于文本相关度。",
        "Score = text relevance × (text weight + Σ other weights × factor): the other factors move a score only within "
        "its text relevance, so it is never above it.",
    ),
    "matched_terms": ("匹配词", "Matched terms"),
    "missing_keywords": ("未覆盖的关键词", "Keywords not covered"),
    "evidence": ("依据", "Evidence"),
    "reasons": ("理由", "Reasons"),
    "excluded": ("已排除", "Excluded"),
    "exclusions": ("排除原因", "Why excluded"),
    "select": ("选定（发出邀请）", "Select (send offer)"),
    "express_interest": ("表达意向", "Express interest"),
    "withdraw": ("撤回", "Withdraw"),
    "selected": ("已向专家发出邀请。", "Offer sent to the specialist."),
    "interest_recorded": ("意向已记录。", "Interest recorded."),
    "interest_matched": ("双方意向一致，对接已生效！", "Both sides are interested: the engagement is active!"),
    "interest_withdrawn": ("意向已撤回。", "Interest withdrawn."),
    "no_suggestions": (
        "暂无推荐。需求发布（状态为“开放”）后才会推荐专家。",
        "No suggestions. Specialists are suggested for open demands only.",
    ),
    "no_suggested_demands": ("暂无推荐的需求。", "No demand is suggested to you at the moment."),
    "interests": ("意向", "Interests"),
    "side": ("发起方", "From"),
    "side_enterprise": ("企业", "enterprise"),
    "side_expert": ("专家", "specialist"),
    "comp_text": ("文本相关度", "text relevance"),
    "comp_industry": ("行业", "industry"),
    "comp_proximity": ("地域", "proximity"),
    "comp_origin": ("来源优先", "origin"),
    "comp_capacity": ("空闲程度", "spare capacity"),
    "comp_rating": ("历史评价", "past ratings"),
    "comp_assessment": ("考核等级", "last assessment"),
    "field_fields": ("专业领域", "fields"),
    "field_keywords": ("关键词", "keywords"),
    "field_title": ("职称/标题", "title"),
    "field_bio": ("简介", "bio"),
    "field_achievements": ("成果", "achievements"),
    # engagements
    "engagement": ("对接", "Engagement"),
    "offers_waiting": ("待您答复的邀请", "Offers waiting for your answer"),
    "act_accept": ("接受", "Accept"),
    "act_decline": ("婉拒", "Decline"),
    "act_complete": ("确认完成", "Mark completed"),
    "act_terminate": ("终止", "Terminate"),
    "act_approve": ("批准派出", "Approve dispatch"),
    "act_reject": ("不予批准", "Reject"),
    "engagement_moved": ("对接状态已更新。", "Engagement updated."),
    "service_logs": ("服务记录", "Service log"),
    "log_date": ("日期", "Date"),
    "log_hours": ("小时", "Hours"),
    "log_summary": ("服务内容", "Summary"),
    "add_log": ("记录服务", "Log service"),
    "log_added": ("服务记录已添加。", "Service logged."),
    "rating": ("评价", "Rating"),
    "rating_comment": ("评语", "Comment"),
    "rate": ("提交评价", "Rate"),
    "rated": ("评价已提交。", "Rating saved."),
    "started_at": ("开始", "Started"),
    "ended_at": ("结束", "Ended"),
    # import
    "import_title": ("表格导入", "Spreadsheet import"),
    "import_help": (
        "上传 CSV、XLSX 或 JSON Lines 文件，列名可用中文或英文；按“外部编号”更新已有记录，重复导入不会产生重复记录。",
        "Upload a CSV, XLSX or JSON Lines file with Chinese or English column headers; "
        "rows are matched by external_id, so importing again creates no duplicates.",
    ),
    "import_kind": ("记录类型", "Kind of records"),
    "kind_experts": ("专家", "specialists"),
    "kind_enterprises": ("企业", "enterprises"),
    "kind_demands": ("需求", "demands"),
    "file": ("文件", "File"),
    "atomic": ("有任何错误行则全部不导入", "Write nothing if any row is bad"),
    "import_run": ("导入", "Import"),
    "import_report": ("导入报告", "Import report"),
    "import_summary": (
        "导入完成：新增 {created} 条，更新 {updated} 条，错误 {bad} 行。",
        "Imported: {created} created, {updated} updated, {bad} bad rows.",
    ),
    "import_nothing_written": ("（整体导入：未写入任何记录）", "(atomic: nothing was written)"),
    "rows": ("行数", "Rows"),
    "created": ("新增", "Created"),
    "updated": ("更新", "Updated"),
    "unchanged": ("未变", "Unchanged"),
    "bad_rows": ("错误行", "Bad rows"),
    "line": ("行号", "Line"),
    "field": ("字段", "Field"),
    "message": ("说明", "Message"),
    "committed": ("已写入", "Written"),
    "ignored_columns": ("忽略的列", "Ignored columns"),
    # rounds
    "rounds": ("双选轮次", "Mutual-selection rounds"),
    "open_round": ("开启新轮次", "Open a round"),
    "round": ("轮次", "Round"),
    "round_demands": ("参与需求编号", "Demand ids"),
    "round_experts": ("参与专家编号", "Specialist ids"),
    "proposing": ("提议方", "Proposing side"),
    "proposing_experts": ("专家提议", "specialists propose"),
    "proposing_demands": ("需求方提议", "demands propose"),
    "preferences": ("志愿排序", "Rank lists"),
    "rank_for": ("排序", "Rank"),
    "ranking": ("按偏好排序的编号", "ids, most preferred first"),
    "submit_ranking": ("提交排序", "Submit rank list"),
    "ranking_saved": ("排序已保存。", "Rank list saved."),
    "close_round": ("关闭并生成匹配", "Close and match"),
    "round_closed": ("轮次已关闭，已生成稳定匹配。", "Round closed: the stable matching is made."),
    "result": ("结果", "Result"),
    "stable": ("稳定匹配", "Stable"),
    "unmatched_demands": ("未匹配的需求", "Unmatched demands"),
    "unmatched_experts": ("未匹配的专家", "Unmatched specialists"),
    "demand_rank": ("需求方排名", "Demand's rank"),
    "expert_rank": ("专家排名", "Specialist's rank"),
    "round_opened": ("轮次已开启。", "Round opened."),
    "not_ranked": ("未提交", "not submitted"),
    # assignments
    "assignments": ("统筹分配", "Programme assignments"),
    "run_assignment": ("运行统筹分配", "Run an assignment"),
    "demand_ids_optional": ("需求编号（留空为全部开放需求）", "Demand ids (empty: every open demand)"),
    "candidates_per_demand": ("每个需求的候选数", "Candidates per demand"),
    "assignment": ("分配方案", "Assignment"),
    "pairs": ("配对", "Pairs"),
    "total_score": ("总分", "Total score"),
    "covered_demands": ("覆盖需求数", "Demands covered"),
    "uncovered_demands": ("未覆盖的需求", "Demands not covered"),
    "feasibility": ("可行性", "Feasibility"),
    "total_headcount": ("总需求人数", "Total headcount"),
    "total_capacity": ("总可服务数", "Total capacity"),
    "make_offers": ("转为邀请", "Turn into offers"),
    "offers_made": ("已发出邀请。", "Offers sent."),
    "offers_failed": ("未能发出的邀请", "Offers that failed"),
    "assignment_run": ("分配方案已生成，请审核。", "Assignment proposed: review it below."),
    "optimal": ("最优", "Optimal"),
    # stats
    "stats": ("项目统计", "Programme figures"),
    "demands_by_status": ("需求（按状态）", "Demands by status"),
    "demands_by_region": ("需求（按地区）", "Demands by region"),
    "demands_by_industry": ("需求（按行业）", "Demands by industry"),
    "experts_by_origin": ("专家（按来源）", "Specialists by origin"),
    "experts_by_load": ("专家（按在岗对接数）", "Specialists by load (live engagements)"),
    "engagements_by_mode": ("对接（按方式）", "Engagements by mode"),
    "engagements_by_status": ("对接（按状态）", "Engagements by status"),
    "share_matched": ("已发布需求中已匹配的比例", "Share of published demands matched"),
    "time_to_first": ("发布到首次对接的中位时间", "Median time from publication to first engagement"),
    "hours": ("小时", "hours"),
    "total": ("合计", "Total"),
    "active_experts": ("在库活跃专家", "Active specialists"),
    # enum values
    "v_draft": ("草稿", "draft"),
    "v_in_review": ("审核中", "in review"),
    "v_approving": ("待单位审批", "awaiting unit approval"),
    "v_open_call": ("揭榜挂帅", "open call"),
    "v_submitted": ("已提交", "submitted"),
    "v_approved": ("已通过", "approved"),
    "v_returned": ("已退回", "returned"),
    "v_open": ("开放", "open"),
    "v_matched": ("已匹配", "matched"),
    "v_closed": ("已关闭", "closed"),
    "v_cancelled": ("已撤销", "cancelled"),
    "v_technology": ("技术", "technology"),
    "v_talent": ("人才", "talent"),
    "v_service": ("服务", "service"),
    "v_in_province": ("省内", "in province"),
    "v_out_of_province": ("省外", "out of province"),
    "v_foreign": ("境外", "foreign"),
    "v_offered": ("已邀请", "offered"),
    "v_active": ("服务中", "active"),
    "v_completed": ("已完成", "completed"),
    "v_declined": ("已婉拒", "declined"),
    "v_terminated": ("已终止", "terminated"),
    "v_enterprise_selection": ("企业选择", "enterprise selection"),
    "v_mutual_selection": ("双向选择", "mutual selection"),
    "v_round": ("轮次匹配", "round"),
    "v_assignment": ("统筹分配", "assignment"),
    "v_proposed": ("待审核", "proposed"),
    "v_offers_made": ("已发邀请", "offers made"),
    "v_pending": ("等待对方", "pending"),
    "v_university": ("高校", "university"),
    "v_research_institute": ("科研院所", "research institute"),
    "v_service_agency": ("服务机构", "service agency"),
    "v_enterprise": ("企业", "enterprise"),
    "v_other": ("其他", "other"),
    "v_micro": ("微型", "micro"),
    "v_small": ("小型", "small"),
    "v_medium": ("中型", "medium"),
    "v_large": ("大型", "large"),
    "v_experts": ("专家", "specialists"),
    "v_demands": ("需求方", "demands"),
}


def translator(lang: str) -> Callable[..., str]:
    """A `t(key, **values)` function for one language; an unknown key shows itself, so a gap is visible."""
    index = 0 if lang == "zh" else 1

    def t(key: str, **values: object) -> str:
        pair = MESSAGES.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t


def value_label(lang: str) -> Callable[[object], str]:
    """Render an enum value (status, category, origin, ...) in the language, or as itself when unknown."""
    index = 0 if lang == "zh" else 1

    def label(value: object) -> str:
        pair = MESSAGES.get(f"v_{value}")
        return pair[index] if pair else str(value)

    return label


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's choice, else the browser's first zh/en preference, else Chinese."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
