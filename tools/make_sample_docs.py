"""Regenerate the bundled sample documents in ``sample_docs/``.

The documents belong to Marlowe Sensor Systems Ltd, a fictional company invented for this project
(about 410 employees, head office in Leeds, engineering centre in Glasgow, assembly plant in Wakefield).
All text is original. The script writes, deterministically:

* PDFs (reportlab): running header and footer on every page, bold section headings, PDF outline
  (bookmarks), real tables and lists, metadata title;
* DOCX (python-docx): Heading 1/Heading 2 styles, "Table Grid" tables with a header row,
  "List Bullet"/"List Number" lists, page header/footer, core-properties title;
* one Markdown and one plain-text file;
* ``sample_docs/questions.jsonl`` (evaluation questions with the file/page/heading of each answer)
  and ``sample_docs/README.md``.

reportlab is needed ONLY to regenerate the PDFs; it is a development tool, not a runtime dependency
of ``kb`` (install it with ``pip install reportlab``). The files it produces are committed.

Usage::

    python tools/make_sample_docs.py            # rewrite sample_docs/
    python tools/make_sample_docs.py --check    # verify the committed files and every answer's page/section
    python tools/make_sample_docs.py --locate "phrase"   # where a phrase occurs (helps writing questions)

``--check`` needs pypdf and python-docx; if reportlab is installed it also re-lays out the PDFs in
memory to confirm that the committed files are current and that paragraphs flow across page breaks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "sample_docs"

COMPANY = "Marlowe Sensor Systems Ltd"
DOMAIN = "marlowe-sensors.example"
CONFIDENTIAL = "Confidential – Internal use"
FIXED_TIME = dt.datetime(2025, 10, 1, 9, 0, 0)  # stamped into DOCX metadata and zip entries


def mail(local: str) -> str:
    return f"{local}@{DOMAIN}"


# ---------------------------------------------------------------------------------------------------
# Document model: a document is a list of blocks shared by the PDF and DOCX writers.
#   ("h1", text) ("h2", text) ("p", text) ("bullets", [items]) ("numbers", [items])
#   ("table", [header], [[row], ...], [relative column widths] or None)
# Text may contain **bold** spans.
# ---------------------------------------------------------------------------------------------------


@dataclass
class Doc:
    path: str  # relative to sample_docs/
    title: str
    subtitle: str
    meta: list[tuple[str, str]]
    blocks: list[tuple]
    kind: str = field(init=False)

    def __post_init__(self):
        self.kind = Path(self.path).suffix.lstrip(".")

    @property
    def name(self) -> str:
        return Path(self.path).name


def H1(t):
    return ("h1", t)


def H2(t):
    return ("h2", t)


def P(t):
    return ("p", t)


def UL(*items):
    return ("bullets", list(items))


def OL(*items):
    return ("numbers", list(items))


def TABLE(header, rows, widths=None):
    return ("table", list(header), [list(r) for r in rows], widths)


# ===================================================================================================
# Content
# ===================================================================================================

HANDBOOK = Doc(
    "hr/employee_handbook.pdf",
    "Employee Handbook",
    "How we work at Marlowe: employment basics, hours, pay, development and conduct",
    [("Version", "4.2"), ("Effective", "1 March 2025"), ("Owner", "People Team"), ("Next review", "February 2026")],
    [
        H1("1 Welcome to Marlowe"),
        P("Marlowe Sensor Systems Ltd designs, builds and supports instruments that measure the quality of rivers, "
          "reservoirs and drinking-water networks. The company was founded in 2009 by Eleanor Marlowe and Kwame Asante, "
          "two hydrology researchers who wanted field probes that could survive a Yorkshire winter without constant "
          "recalibration. Today around 410 colleagues work across three sites: the head office at Canal Wharf in Leeds, "
          "the engineering centre in Glasgow and the assembly plant in Wakefield."),
        H2("1.1 What we make"),
        UL("**RiverEye** multiparameter probes, which measure dissolved oxygen, turbidity, pH, conductivity and "
           "temperature, sold in three models: RiverEye Lite, RiverEye 4 and RiverEye Pro.",
           "**TideLog** solar-powered data loggers, which store up to 18 months of readings and send them over 4G or "
           "satellite links.",
           "**Marlowe Cloud Monitor**, the subscription platform where customers view live readings, set alarms and "
           "download compliance reports."),
        P("Our customers are water utilities, environmental regulators and research institutes in 23 countries. In the "
          "2024 financial year about 61% of revenue came from customers outside the United Kingdom, and Marlowe Cloud "
          "Monitor subscriptions passed 1,900 monitored sites."),
        H2("1.2 Our values"),
        UL("**Measure twice.** We check our data and our assumptions before we act on them.",
           "**Own the outcome.** If you start something, you see it through or hand it over clearly.",
           "**Speak plainly.** We say what we mean, to customers and to each other, and we disagree openly and politely.",
           "**Leave it cleaner.** Every site visit, code change and meeting should leave things in better shape than "
           "we found them."),
        H2("1.3 How to use this handbook"),
        P("This handbook summarises the rules that apply to everyone who works for Marlowe in the United Kingdom. "
          "Detailed rules live in separate policies, which are listed in section 8. Where this handbook and a specific "
          "policy differ, the specific policy applies. The handbook does not form part of your contract of employment, "
          "except where a section says so explicitly, and the People Team updates it at least once a year. If you "
          "cannot find the answer to a question here or in the related policies, ask your line manager first and your "
          "HR Business Partner second; they would much rather answer a question early than untangle a problem later. Every policy mentioned here "
          "is kept in the Policies area of the intranet, and a printed copy of this handbook is available at each "
          "site's reception for colleagues at the plant who do not use a computer every day. When a policy changes, "
          "the People Team announces it in the monthly Marlowe Matters newsletter and explains what is different "
          "and from when. Suggestions for improving the handbook are welcome at any time."),
        H1("2 Your employment"),
        H2("2.1 Job bands"),
        P("Every role at Marlowe sits in one of six bands or in the Executive Team. Your band is shown in your offer "
          "letter and in PeopleDesk, our HR system, and it determines the length of your probation, your notice period "
          "and whether you are eligible for paid overtime."),
        TABLE(["Band", "Typical roles", "Probation", "Notice period (either side)"],
              [["Band 1", "Assembly operatives, apprentices", "6 months", "4 weeks"],
               ["Band 2", "Technicians, coordinators, administrators", "6 months", "4 weeks"],
               ["Band 3", "Engineers, analysts, specialists", "6 months", "8 weeks"],
               ["Band 4", "Senior engineers, team leads", "6 months", "8 weeks"],
               ["Band 5", "Managers, principal engineers", "9 months", "12 weeks"],
               ["Band 6", "Heads of department, directors", "9 months", "12 weeks"],
               ["Executive", "Members of the Executive Team", "9 months", "6 months"]],
              [0.16, 0.44, 0.16, 0.24]),
        H2("2.2 Probation"),
        P("Probation gives you and your manager a structured way to confirm that the role is a good fit. Your manager "
          "holds a formal review at the halfway point and a final review at least two weeks before the probation end "
          "date. Probation may be extended once, by up to three months, if more time is needed to reach the agreed "
          "standard. During probation either side may end the employment with one week's notice, whatever your band."),
        H2("2.3 Personal details and right to work"),
        P("Keep your home address, bank account and emergency contacts up to date in PeopleDesk. If your right to work "
          "in the UK depends on a visa, tell the People Team at least three months before it expires so that we can "
          "help with the renewal in good time."),
        H1("3 Working hours and pay"),
        H2("3.1 Working hours"),
        P("The standard full-time working week is 37.5 hours, normally Monday to Friday, with an unpaid lunch break of "
          "30 minutes each day. At Canal Wharf and in Glasgow the core hours, when everyone is expected to be available "
          "unless they are on leave, are 10:00 to 15:00. Outside core hours you may arrange your day with your "
          "manager's agreement, for example to start early and finish early."),
        H2("3.2 Shift work at Wakefield"),
        P("Assembly and test teams at the Wakefield plant work two rotating shifts: the early shift from 06:00 to 14:00 "
          "and the late shift from 14:00 to 22:00. Shift rotas are published at least four weeks in advance, and a paid "
          "20-minute break is included in each shift. Employees receive a shift allowance of 12% of basic pay for each "
          "late shift they work. Changes to a published rota need at least 7 days' notice except in an emergency, and "
          "shift swaps between colleagues must be agreed in advance by the shift supervisor so that every line "
          "keeps a trained first aider and a qualified tester on duty."),
        H2("3.3 Overtime and time off in lieu"),
        UL("Employees in Bands 1 to 3 are eligible for paid overtime, which must be approved in advance by their line "
           "manager.",
           "Overtime on weekdays and Saturdays is paid at 1.5 times the basic hourly rate; overtime on Sundays and bank "
           "holidays is paid at twice the basic rate.",
           "Employees in Band 4 and above are not paid for overtime. Instead they may take time off in lieu (TOIL) for "
           "significant extra hours, up to a maximum of 3 days per calendar quarter.",
           "TOIL that is not taken within the same quarter lapses and cannot be paid out."),
        H2("3.4 Pay"),
        P("Salaries are paid monthly by bank transfer on the 25th of each month. When the 25th falls on a Saturday, "
          "Sunday or bank holiday, you are paid on the last working day before it. Payslips are published in PeopleDesk "
          "two working days before payday. Salaries are reviewed once a year, and any increase takes effect on 1 April."),
        H2("3.5 Company bonus"),
        P("Marlowe runs a single company-wide bonus scheme linked to annual revenue and customer-satisfaction targets. "
          "When the targets are met, the bonus is paid with the June salary and is worth up to 8% of basic salary, "
          "pro-rated for part-time employees and for people who joined part-way through the financial year. To receive "
          "it you must be employed, and not under notice, on 31 May."),
        H1("4 Performance and development"),
        H2("4.1 Review cycle"),
        P("Everyone has a mid-year check-in with their manager in October and an annual performance review in March. "
          "Objectives are agreed at the start of the financial year and can be revised at the mid-year check-in if "
          "priorities change. Annual reviews use the following five-point scale:"),
        TABLE(["Rating", "Label", "What it means"],
              [["1", "Not yet meeting", "Significant gaps against objectives; a support plan is agreed."],
               ["2", "Partly meeting", "Some objectives met, with clear development areas."],
               ["3", "Meeting", "All core objectives delivered to the expected standard."],
               ["4", "Exceeding", "Objectives delivered and regularly surpassed."],
               ["5", "Outstanding", "Exceptional impact well beyond the role."]],
              [0.12, 0.22, 0.66]),
        H2("4.2 Learning and development"),
        P("Each employee has a personal learning budget of £1,200 per financial year, which can be spent on courses, "
          "conferences, certifications and books agreed with their manager. Marlowe also reimburses the annual fee of "
          "one professional body membership relevant to your role, such as the Institution of Engineering and "
          "Technology or the Chartered Institution of Water and Environmental Management, up to £350 a year. Learning "
          "requests are made in the Learning section of PeopleDesk and approved by your manager."),
        H1("5 Conduct, discipline and grievances"),
        P("We expect everyone to follow the Code of Conduct. The rules for reporting sickness and other absence are set "
          "out in the Leave Policy."),
        H2("5.1 Disciplinary procedure"),
        P("Most concerns are resolved through an informal conversation with your manager. Where that does not work, or "
          "where the matter is more serious, the formal procedure below applies. Before any formal hearing you receive "
          "the allegations in writing at least 48 hours in advance, and you have the right to be accompanied by a "
          "colleague or a trade union representative."),
        OL("Informal discussion with your line manager, noted but not placed on your personnel file.",
           "First written warning, which remains live on your file for 6 months.",
           "Final written warning, which remains live for 12 months.",
           "Dismissal, with notice or with pay in lieu of notice."),
        P("Gross misconduct, such as theft, violence, serious breaches of the IT Security Policy or falsifying test "
          "data, may lead to dismissal without notice after a fair investigation. You may appeal against any formal "
          "outcome by writing to the People Team within 5 working days of receiving it; the appeal is heard by a "
          "manager who was not involved in the original decision."),
        H2("5.2 Raising a grievance"),
        P("If you have a concern about your work, your colleagues or the way you have been treated, talk to your line "
          "manager first. If that is not appropriate, or the issue is not resolved, put your grievance in writing to "
          "your HR Business Partner. A grievance meeting is held within 10 working days of receiving the written "
          "grievance, and you receive a written outcome within 5 working days after the meeting."),
        H1("6 Referral programme"),
        P("We pay a referral bonus when someone you recommend is hired and completes probation. The bonus is £750 for "
          "hires into Bands 1 and 2 and £2,000 for hires into Band 3 and above. Referrals must be submitted through the "
          "Careers page in PeopleDesk before the candidate applies. Hiring managers referring candidates to their own "
          "teams and members of the Talent Acquisition team are not eligible."),
        H1("7 Leaving Marlowe"),
        P("If you decide to leave, give your notice in writing to your line manager and copy the People Team. Your "
          "manager will agree a handover plan with you, and you will be invited to an exit interview with an HR "
          "Business Partner; the interview is optional, but it helps us improve. All company property, including your "
          "laptop, phone, ID badge, security key, tools and any RiverEye demonstration kit, must be returned on or "
          "before your last working day. Your final salary is paid on the normal payday after your last day. Reference "
          f"requests from future employers must be sent to {mail('references')}. Managers must not give references on "
          "behalf of the company, although they may act as a personal referee if they make clear that they are not "
          "speaking for Marlowe."),
        H1("8 Related policies"),
        TABLE(["Policy", "Owner", "What it covers"],
              [["Leave Policy", "People Team", "Annual, sick, family and other leave"],
               ["Benefits Summary", "People Team", "Medical insurance, pension, life assurance, wellbeing"],
               ["Remote and Hybrid Working Policy", "People Team", "Office attendance, home working, working abroad"],
               ["Travel and Expense Policy", "Finance", "Business travel, per diems, mileage, expense claims"],
               ["Code of Conduct", "Legal", "Ethics, gifts, conflicts of interest, speaking up"],
               ["IT Security Policy", "Information Security", "Passwords, MFA, devices, incident reporting"],
               ["Onboarding Guide", "People Team", "Your first week and first 90 days"],
               ["Office and Facilities Guide", "Facilities", "Sites, access, parking, meeting rooms"]],
              [0.34, 0.22, 0.44]),
    ],
)

LEAVE = Doc(
    "hr/leave_policy.pdf",
    "Leave Policy",
    "Annual leave, sickness absence, family leave and other time off",
    [("Version", "3.1"), ("Effective", "1 January 2025"), ("Owner", "Sunita Varma, Chief People Officer"),
     ("Applies to", "All employees")],
    [
        H1("1 Purpose and scope"),
        P("This policy explains how much time off you are entitled to, how to request it and how you are paid while "
          "you are away. It applies to all employees of Marlowe Sensor Systems Ltd; agency workers follow the terms of "
          "their agency. The leave year runs from 1 January to 31 December, and all leave is requested, approved and "
          "recorded in PeopleDesk. Figures are for full-time employees unless the policy says otherwise. Questions "
          f"about this policy should go to your HR Business Partner or to {mail('people')}."),
        H1("2 Annual leave"),
        H2("2.1 Entitlement"),
        P("Full-time employees receive 25 days of paid annual leave in each leave year, in addition to the public "
          "holidays observed by their office, which are published in the company holiday calendar. Annual leave grows "
          "with length of service, measured on 1 January of each leave year:"),
        TABLE(["Completed years of service on 1 January", "Annual leave per year"],
              [["Less than 3 years", "25 days"],
               ["3 to 4 years", "26 days"],
               ["5 to 7 years", "27 days"],
               ["8 years or more", "28 days"]],
              [0.6, 0.4]),
        H2("2.2 Requesting leave"),
        UL("Request leave in PeopleDesk and wait for approval before you book travel.",
           "Give notice of at least twice the length of the leave: for example, two weeks' notice for a one-week "
           "holiday.",
           "Periods longer than 10 consecutive working days need approval from your Head of Department as well as your "
           "line manager.",
           "Managers respond to requests within 5 working days; a request that has not been answered by then may be "
           "escalated to your HR Business Partner.",
           "Teams may set blackout periods, for example around product launches or the plant's year-end stock count; "
           "these are published at least three months in advance."),
        H2("2.3 Closure days and the plant shutdown"),
        P("The offices and the plant close between Christmas and New Year. Closure days that are not public holidays "
          "are taken from annual leave, so everyone must keep enough days in reserve; the closure days for each year "
          "are shown in the holiday calendar. In addition, employees based at the Wakefield plant must reserve 5 days "
          "of annual leave for the summer shutdown, when the production lines are serviced and recalibrated."),
        H2("2.4 Carrying over leave"),
        P("You should plan to take your full entitlement within the leave year. Up to 5 days of unused annual leave may "
          "be carried over into the next leave year, but carried-over days must be taken by 31 March; any that are "
          "still unused after that date are lost. Days above the 5-day limit are forfeited on 31 December unless your "
          "Head of Department has approved an exception in writing because business needs prevented you from taking "
          "them. Employees who could not take leave because of sickness or family leave may carry over all their "
          "untaken days, which must then be used within 18 months of the end of the leave year in which they arose."),
        H2("2.5 Buying additional leave"),
        P("Once a year, in the window from 1 to 30 November, you can buy up to 5 extra days of leave for the following "
          "leave year through salary sacrifice. The cost is spread over 12 monthly deductions. Bought leave cannot be "
          "carried over, and leave cannot be sold back to the company."),
        H2("2.6 Part-time employees"),
        P("Part-time employees receive the same leave as full-time colleagues, pro-rated to their contracted hours. "
          "The entitlement in days is the full-time entitlement multiplied by your contracted weekly hours divided by "
          "37.5, rounded up to the nearest half day, and it is recorded in hours at 7.5 hours per day. Public holidays "
          "are pro-rated in the same way and added to your hours balance, so that colleagues who do not normally work "
          "on Mondays are not disadvantaged. Employees who work 37.5 hours over four days (compressed hours) are "
          "full-time. Examples before service increments:"),
        TABLE(["Contracted hours per week", "Annual leave (days)", "Annual leave (hours)"],
              [["30 hours", "20 days", "150 hours"],
               ["22.5 hours", "15 days", "112.5 hours"],
               ["18.75 hours", "12.5 days", "93.75 hours"],
               ["15 hours", "10 days", "75 hours"]],
              [0.4, 0.3, 0.3]),
        H2("2.7 Joining or leaving during the year"),
        P("If you join or leave part-way through the leave year, your entitlement is one twelfth of the annual "
          "entitlement for each complete month of service. When you leave, untaken leave is paid with your final "
          "salary, and leave taken beyond your pro-rated entitlement is deducted from it."),
        H1("3 Sickness absence"),
        H2("3.1 Reporting sickness"),
        OL("Phone your line manager by 09:30 on your first day of absence; a text message or email is not enough. If "
           "you work shifts at Wakefield, call at least one hour before your shift starts.",
           "Tell your manager the reason for the absence and how long you expect to be away.",
           "On your first day back, record the absence in PeopleDesk and complete the self-certification form, which "
           "covers absences of up to 7 calendar days.",
           "From the 8th calendar day of sickness you need a fit note from your GP or hospital doctor; upload it to "
           "PeopleDesk as soon as you receive it."),
        H2("3.2 Company sick pay"),
        P("Company sick pay includes any Statutory Sick Pay you are entitled to. How much you receive depends on your "
          "continuous service and is counted over a rolling 12-month period:"),
        TABLE(["Continuous service", "Weeks at full pay", "Then weeks at half pay"],
              [["Less than 6 months", "Statutory Sick Pay only", "–"],
               ["6 months to 2 years", "4 weeks", "4 weeks"],
               ["2 years to 5 years", "8 weeks", "8 weeks"],
               ["More than 5 years", "13 weeks", "13 weeks"]],
              [0.4, 0.3, 0.3]),
        H2("3.3 Return to work and wellbeing reviews"),
        P("After every absence your manager holds a short return-to-work conversation with you. Three or more separate "
          "absences within any 6-month period, or a single absence of more than 4 weeks, trigger a wellbeing review, "
          "and your manager may refer you to our occupational health provider, Pennine Occupational Health. Phased "
          "returns are agreed case by case on the advice of occupational health."),
        H2("3.4 Medical appointments"),
        P("Try to arrange routine medical appointments at the start or end of the working day. Paid time off is given "
          "for hospital appointments, antenatal appointments and cancer screening; time for other appointments may be "
          "made up later with your manager's agreement."),
        H1("4 Family leave"),
        H2("4.1 Maternity leave"),
        P("Employees who are pregnant can take up to 52 weeks of maternity leave, whatever their length of service. "
          "Employees with at least 12 months' continuous service at the expected week of childbirth receive enhanced "
          "maternity pay: 16 weeks at full pay, followed by 10 weeks at half pay (or Statutory Maternity Pay, if that "
          "is higher), then Statutory Maternity Pay for the remaining 13 weeks of the 39-week pay period. Others "
          "receive Statutory Maternity Pay. Tell your manager and the People Team about your pregnancy and your "
          "intended start date no later than the 15th week before the expected week of childbirth. If you are off sick with a "
          "pregnancy-related illness in the four weeks before the expected week of childbirth, maternity leave "
          "starts automatically. You can come back early by giving at least 8 weeks' notice of your new return "
          "date, and holiday that builds up during maternity leave can be taken before the leave starts or after "
          "you return. Your manager will arrange a risk assessment of your work as soon as you tell them that you are "
          "pregnant."),
        H2("4.2 Partner leave"),
        P("The partner of someone giving birth, and the secondary adopter in an adoption, can take 4 weeks of partner "
          "leave at full pay, provided they have 26 weeks of continuous service by the 15th week before the expected "
          "week of birth or by the week of the adoption match. Partner leave can be taken as one block or as separate "
          "whole weeks, and must be taken within 26 weeks of the birth or placement. Give your manager at least 15 weeks' "
          "notice of the week the baby is due, or 7 days' notice after being matched with a child for adoption, and "
          "tell them which weeks you intend to take; dates can be changed with 28 days' notice. Partner leave does "
          "not reduce your annual leave, and annual leave continues to build up while you are away."),
        H2("4.3 Adoption and surrogacy leave"),
        P("The primary adopter, and intended parents in a surrogacy arrangement who qualify for a parental order, "
          "receive leave and pay on the same terms as maternity leave. Up to 5 paid appointments are allowed before "
          "the placement or birth."),
        H2("4.4 Shared parental leave"),
        P("Eligible parents can share up to 50 weeks of leave and 37 weeks of pay. Enhanced shared parental pay matches "
          "the enhanced maternity pay described above, less any weeks of enhanced pay that the other parent has "
          "already received from Marlowe, and it has the same 12-month service requirement."),
        H2("4.5 Keeping in touch"),
        P("During maternity or adoption leave you may work up to 10 keeping-in-touch (KIT) days, and during shared "
          "parental leave up to 20 shared parental leave in touch (SPLIT) days, without bringing your leave to an end. "
          "These days are optional, agreed in advance and paid at your normal daily rate."),
        H2("4.6 Returning to work"),
        P("For the first 4 weeks after returning from maternity, adoption or shared parental leave of 16 weeks or "
          "more, you may work 80% of your contracted hours for full pay. Hybrid working arrangements are covered by the "
          "Remote and Hybrid Working Policy."),
        H2("4.7 Unpaid parental leave"),
        P("Parents with 12 months' service can take up to 18 weeks of unpaid parental leave for each child before the "
          "child's 18th birthday. It is taken in whole weeks, with no more than 4 weeks for each child in any year, "
          "and you must give 21 days' notice."),
        H1("5 Other leave"),
        P("The following paid leave is available to all employees. Book it in PeopleDesk using the leave type shown in "
          "the first column."),
        TABLE(["Type of leave", "Paid time off", "Notes"],
              [["Bereavement: partner, child, parent or sibling", "5 days", "Per bereavement; more may be agreed with "
                "your manager"],
               ["Bereavement: grandparent, grandchild or in-law", "2 days", "Per bereavement"],
               ["Parental bereavement (death of a child under 18, or stillbirth)", "10 days",
                "Can be taken within 56 weeks of the death"],
               ["Jury service", "Up to 10 working days at full pay", "Claim the court's loss-of-earnings allowance; "
                "it is deducted from your pay"],
               ["Volunteering", "2 days per leave year", "For work with registered charities"],
               ["Study and exams", "Up to 5 days per leave year, plus exam days", "For qualifications approved "
                "through your learning budget"],
               ["Moving house", "1 day per leave year", "–"],
               ["Emergency time off for dependants", "First 2 days per leave year", "Further time is unpaid"]],
              [0.38, 0.27, 0.35]),
        H2("5.1 Sabbaticals and career breaks"),
        P("After 10 years of continuous service you can take a paid sabbatical of 4 weeks. It must be taken within 2 "
          "years of becoming eligible and agreed with your Head of Department at least 3 months in advance. Employees "
          "with 5 years' service may also request an unpaid career break of between 1 and 6 months."),
        H1("6 Working on a public holiday"),
        P("Some colleagues, such as the Marlowe Cloud Monitor on-call engineers and plant maintenance staff, may be "
          "rostered to work on a public holiday. If you work on a public holiday you receive a day off in lieu, to be "
          "taken within 3 months, in addition to any overtime or on-call payment you are entitled to under the "
          "Employee Handbook. If a public holiday falls on a day you are already on annual leave, it is not deducted "
          "from your annual leave."),
        H1("7 Records and review"),
        UL("PeopleDesk is the only official record of leave; spreadsheets and team calendars are not.",
           "Your leave balance, including carried-over and bought days, is shown on the PeopleDesk home page.",
           "Managers review the leave balances of their team every quarter and encourage people with large "
           "balances to plan time off.",
           "The People Team reviews this policy every year and consults the Employee Forum before making changes."),
    ],
)

TRAVEL = Doc(
    "finance/travel_expense_policy.pdf",
    "Travel and Expense Policy",
    "Booking business travel, per diems, mileage and claiming expenses",
    [("Version", "2.4"), ("Effective", "1 February 2025"), ("Owner", "Rupert Achebe, Chief Financial Officer"),
     ("Administered by", "Finance Operations")],
    [
        H1("1 Principles"),
        P("Marlowe pays the reasonable costs of travelling on company business and expects everyone to spend company "
          "money as carefully as their own. This policy applies to employees, contractors engaged through PeopleDesk "
          "and candidates invited to interviews. If something is not covered here, ask Finance Operations "
          f"({mail('expenses')}) before you spend, not afterwards."),
        UL("Choose the lowest-cost option that is practical, safe and fits the purpose of the trip.",
           "Use a video call when a trip is not essential.",
           "Book through the company's travel agency, Voyagr Business Travel, so that we know where you are in an "
           "emergency.",
           "Keep itemised receipts for everything you claim."),
        H1("2 Approval before you travel"),
        H2("2.1 Trip approval"),
        P("Every trip that includes an overnight stay or any air travel must be approved in ExpenseHub before it is "
          "booked. International trips must be approved at least 14 days before departure and domestic trips at least "
          "7 days before. The approver depends on the estimated total cost of the trip, including transport, "
          "accommodation and per diems:"),
        TABLE(["Estimated total trip cost", "Approver", "Notes"],
              [["Up to £500", "Line manager", "Domestic day trips without air travel need no pre-approval"],
               ["£500.01 to £2,500", "Budget holder (Head of Department)", "–"],
               ["£2,500.01 to £10,000", "Director of the function", "–"],
               ["Above £10,000", "Chief Financial Officer", "CFO approval is also needed for any business-class flight"]],
              [0.26, 0.32, 0.42]),
        H2("2.2 High-risk destinations"),
        P("Travel to a country rated high or extreme risk by our travel-security provider needs an additional review "
          "by the Information Security and Health and Safety teams at least 21 days before departure. Company laptops "
          "taken to these countries are replaced with a loan device prepared by the IT Service Desk. Before you "
          "leave, register your itinerary and mobile number with Voyagr, download the travel-security app and "
          "agree a daily check-in time with your manager. If you miss two check-ins in a row, your manager alerts "
          "the emergency assistance service listed in section 7. Personal trips added to a business trip to a "
          "high-risk country need the same review, even if the business part is short. Keep "
          "copies of your passport and visa in the travel-security app."),
        H1("3 Transport"),
        H2("3.1 Rail"),
        P("Book standard class. First class is allowed only for journeys scheduled to last more than 3 hours, and then "
          "only when the first-class fare is no more than £40 above the standard fare for the same train. Use advance "
          "fares and railcards where possible; the company reimburses the cost of a railcard if you travel by rail "
          "for work at least 6 times a year."),
        H2("3.2 Air travel"),
        UL("Economy class for flights with a scheduled duration of less than 6 hours.",
           "Premium economy for flights of 6 hours or more.",
           "Business class only for overnight flights longer than 9 hours, with CFO approval in advance.",
           "Checked baggage is reimbursed when you carry equipment or are away for more than 3 nights.",
           "You may keep airline loyalty points, but they must not influence which flight you choose."),
        H2("3.3 Using your own vehicle"),
        P("If you use your own car, van, motorcycle or bicycle for business journeys, you can claim a mileage "
          "allowance at the rates below. Business mileage is the distance you travel beyond your normal commute; "
          "journeys between home and your usual workplace are never claimable. You must have business-use cover on "
          "your vehicle insurance and upload the certificate to ExpenseHub once a year."),
        TABLE(["Vehicle", "Rate per business mile"],
              [["Car or van: first 10,000 business miles in the tax year", "45p"],
               ["Car or van: each mile above 10,000", "25p"],
               ["Motorcycle", "24p"],
               ["Bicycle", "20p"],
               ["Passenger supplement, per colleague carried", "5p"]],
              [0.7, 0.3]),
        H2("3.4 Taxis and hire cars"),
        P("Taxis and ride-hailing services may be used when public transport is impractical, when you are carrying "
          "heavy equipment, or after 21:00. Hire cars must be booked through Voyagr in the compact or estate category, "
          "with the company's insurance. Return the car with a full tank: refuelling charges added by hire companies "
          "are not reimbursed."),
        H1("4 Accommodation and per diems"),
        P("Book hotels through Voyagr. The nightly hotel limits below include breakfast and local taxes. The per diem "
          "is a daily allowance for meals, drinks and small incidental costs such as tips, paid instead of reimbursing "
          "individual meal receipts. It is paid for each calendar day on which you travel on business and stay away "
          "from home overnight."),
        TABLE(["City or region", "Hotel limit per night", "Per diem per day"],
              [["London", "£180", "£55"],
               ["Other UK cities", "£120", "£40"],
               ["Dublin, Amsterdam, Paris", "€210", "€70"],
               ["Other euro-area cities", "€160", "€55"],
               ["Oslo, Stockholm, Copenhagen", "£190", "£70"],
               ["Zurich, Geneva", "CHF 260", "CHF 95"],
               ["New York, Boston, San Francisco", "US$290", "US$95"],
               ["Other United States cities", "US$210", "US$75"],
               ["Singapore", "S$320", "S$110"],
               ["Rest of the world", "£150", "£50"]],
              [0.44, 0.28, 0.28]),
        UL("On the day you set off and the day you return, the per diem is paid at 75% of the daily rate.",
           "When a meal is provided free, for example at a conference or by a customer, reduce the per diem by 30% for "
           "each lunch and 50% for each dinner provided.",
           "Day trips without an overnight stay do not attract a per diem. Instead, meal costs of up to £15 are "
           "reimbursed against a receipt when you are away from your workplace for more than 10 hours.",
           "Hotel rates above the limit need approval from the budget holder before booking; without approval, only "
           "the amount up to the limit is reimbursed."),
        H1("5 Entertaining customers"),
        P("Entertaining customers and partners is allowed when it has a clear business purpose. The limit is £75 per "
          "head, including drinks and service, and the most senior Marlowe employee present pays and claims. List "
          "every attendee and their organisation on the claim. Entertaining public officials, including staff of "
          "water regulators, needs prior approval from the Legal team. Gifts to and from customers are covered by the "
          "Code of Conduct."),
        H1("6 Claiming expenses"),
        H2("6.1 How to claim"),
        OL("Photograph each receipt with the ExpenseHub mobile app, or upload it from your computer. An itemised "
           "receipt is required for every item above £10.",
           "Choose the trip or project code and the expense category for each item.",
           "Submit the claim within 30 days of the date the cost was incurred. Claims submitted more than 90 days after "
           "the cost was incurred are rejected.",
           "Your approver reviews the claim, and Finance Operations then checks it against this policy."),
        H2("6.2 When you are paid"),
        P("Claims that are fully approved by the 12th of a month are reimbursed with that month's salary; claims "
          "approved later are paid the following month. Costs in foreign currency are converted at the exchange rate "
          "on the date of the receipt, or at the rate on your card statement if you attach it."),
        H2("6.3 Corporate cards"),
        P("Employees who travel for work more than four times a year can apply for a corporate Visa card issued by "
          "Northbridge Bank. The standard monthly limit is £5,000. Card transactions must be reconciled in ExpenseHub "
          "within 10 working days of the monthly statement, and cards with unreconciled transactions older than 60 "
          "days are suspended. Never use the card for personal purchases, even if you intend to repay them."),
        H2("6.4 What is not reimbursed"),
        UL("Alcohol, except as part of approved customer entertaining",
           "Hotel minibar, films and other in-room entertainment",
           "Parking fines, speeding fines and congestion-charge penalties",
           "Upgrades to travel class or hotel rooms that were not approved in advance",
           "Loss or theft of personal belongings, unless covered by the company travel insurance",
           "Laundry, unless the trip lasts five nights or more",
           "Clothing, luggage and personal grooming"),
        H1("7 Duty of care"),
        P("All business trips are covered by the company travel insurance policy. Emergency medical and security "
          "assistance is available 24 hours a day on +44 113 496 0555; quote the policy number shown in the Travel "
          "section of the intranet. If your plans change while you are away, update the booking through Voyagr so "
          "that your travel record stays accurate."),
    ],
)

BENEFITS = Doc(
    "hr/benefits_summary.pdf",
    "Benefits Summary 2025–26",
    "Medical insurance, pension, protection, wellbeing and salary sacrifice benefits",
    [("Plan year", "1 April 2025 – 31 March 2026"), ("Owner", "People Team, Reward and Benefits"),
     ("Contact", mail("benefits"))],
    [
        H1("1 Who is eligible"),
        P("The benefits in this summary are available to permanent employees and to fixed-term employees whose "
          "contracts last 6 months or longer. Benefits start on your first day of employment unless stated otherwise. "
          "Full plan rules and insurer documents are in the Benefits section of PeopleDesk; where this summary and the "
          "plan rules differ, the plan rules apply."),
        H1("2 Private medical insurance"),
        P("Marlowe offers three private medical insurance plans, all insured by Albion Health. You can cover yourself "
          "only, yourself and your partner, or your family (yourself, your partner and your children up to age 25 if "
          "they are in full-time education). The company contribution is a fixed monthly amount equal to the full "
          "cost of the Core plan for an employee on their own. The difference between your premium and the company "
          "contribution is deducted from your salary each month."),
        TABLE(["Plan", "Annual excess (deductible)", "Outpatient limit per year", "Monthly premium: employee only",
               "Monthly premium: employee + partner", "Monthly premium: family", "Company contribution per month"],
              [["Core", "£250", "£1,000", "£62.00", "£118.00", "£165.00", "£62.00"],
               ["Plus", "£100", "£2,500", "£94.00", "£179.00", "£247.00", "£62.00"],
               ["Premier", "£0", "Unlimited", "£131.00", "£251.00", "£318.00", "£62.00"]],
              [0.12, 0.14, 0.14, 0.15, 0.16, 0.14, 0.15]),
        UL("Example: an employee who chooses the Plus plan with partner cover pays £179.00 minus £62.00, which is "
           "£117.00 a month.",
           "All three plans include mental health cover: up to 10 therapy sessions a year on Core, and no session "
           "limit on Plus or Premier.",
           "Pre-existing conditions are covered on all plans (medical history disregarded).",
           "Medical insurance is a taxable benefit. The company contribution and any premium you pay appear on your "
           "P11D form."),
        H2("2.1 Joining and changing plans"),
        P("Choose your plan within 30 days of joining; if you do not choose, you are enrolled in Core for yourself "
          "only. After that you can change plans only during the annual enrolment window, from 1 to 28 February, with "
          "the change taking effect on 1 April, or within 31 days of a life event such as marriage, the birth or "
          "adoption of a child, or your partner losing cover elsewhere. Children can be added from birth or adoption if you tell the People "
          "Team within the same 31 days. If you leave Marlowe, cover ends on your last day of employment, but Albion "
          "Health will offer you a personal policy without new medical underwriting if you apply within 30 days. Your partner and children stay covered until "
          "the same date, and they can be included in the personal policy. "
          "Cover for a partner or children also ends if you divorce or separate, or when a child leaves full-time "
          "education."),
        H1("3 Pension"),
        P("You are enrolled in the Marlowe Group Personal Pension, provided by Aspen Life, from your first day. The "
          "company contribution depends on what you pay in, as a percentage of basic salary:"),
        TABLE(["Your contribution", "Company contribution"],
              [["3% (minimum)", "5%"],
               ["4%", "6%"],
               ["5%", "8%"],
               ["6% or more", "9% (maximum)"]],
              [0.5, 0.5]),
        P("Contributions are paid through salary sacrifice unless you opt out of it, which lowers the National "
          "Insurance you pay. You can change your contribution rate once a month in PeopleDesk; changes made by the "
          "10th take effect in that month's payroll."),
        H1("4 Protection"),
        H2("4.1 Life assurance"),
        P("Life assurance of 4 times your basic annual salary is paid as a lump sum if you die while employed by "
          "Marlowe. Cover starts on your first day. Tell the insurer who you would like to receive the payment by "
          "completing the expression of wish form in PeopleDesk, and update it when your circumstances change."),
        H2("4.2 Income protection"),
        P("If illness or injury keeps you off work for a long time, income protection pays 75% of your basic salary "
          "after 26 weeks of continuous absence, until you return to work, reach State Pension age or your employment "
          "ends. Cover starts once you have completed probation."),
        H1("5 Wellbeing"),
        UL("**Employee Assistance Programme.** Confidential support on money, family, legal and emotional issues, "
           "24 hours a day, from Kindred EAP, including up to 6 counselling sessions per issue by video or in person. "
           "Household members aged 16 or over can use it too. The phone number is in the contacts table below.",
           "**Eye care.** If you use a screen for work, Marlowe reimburses up to £25 for an eye test every 2 years and "
           "up to £60 towards glasses needed for screen use.",
           "**Flu vaccinations.** Free every autumn, at on-site clinics in Leeds, Glasgow and Wakefield or with a "
           "pharmacy voucher.",
           "**Gym discount.** 25% off membership at PureMotion gyms across the UK."),
        H1("6 Salary sacrifice and lifestyle benefits"),
        TABLE(["Benefit", "What you get", "How and when to join"],
              [["Cycle to Work", "A bike and safety equipment worth up to £2,500, paid for over 12 months through "
                "salary sacrifice", "Apply in PeopleDesk during the March or September window"],
               ["Electric car scheme", "A new fully electric car leased through Greenlane Leasing, paid through salary "
                "sacrifice, minimum lease 24 months", "Any time after completing probation"],
               ["Season ticket loan", "An interest-free loan of up to £5,000 for a rail or bus season ticket, repaid "
                "over 10 months", "Any time"],
               ["Payroll giving", "Donations to any UK charity from your gross pay", "Any time"]],
              [0.2, 0.5, 0.3]),
        H1("7 Contacts"),
        TABLE(["Topic", "Provider", "Contact"],
              [["General benefits questions", "People Team", mail("benefits")],
               ["Medical claims and pre-authorisation", "Albion Health", "0808 157 0310"],
               ["Pension", "Aspen Life", "0808 157 0188"],
               ["Employee Assistance Programme", "Kindred EAP", "0808 157 0246 (24 hours)"]],
              [0.38, 0.24, 0.38]),
    ],
)

CONDUCT = Doc(
    "general/code_of_conduct.pdf",
    "Code of Conduct",
    "The standards of behaviour we expect from everyone at Marlowe",
    [("Version", "2.0"), ("Approved by the Board", "12 November 2024"),
     ("Owner", "Catherine Hale, General Counsel and Ethics Officer"), ("Applies to", "Employees, contractors and temporary workers")],
    [
        H1("1 Why we have a code"),
        P("Our customers rely on RiverEye readings to decide whether water is safe to drink or fit to release into a "
          "river. That trust depends on the integrity of every person at Marlowe, in every conversation, test and "
          "report. This Code sets out the standards we expect and where to go for help. It applies to employees, "
          "contractors and temporary workers, and we expect our distributors and suppliers to follow equivalent "
          "standards."),
        P("\"If you are ever unsure whether something is right, ask before you act. Nobody at Marlowe will be "
          "criticised for asking, and no sale is worth a compromise on honesty.\" – Margaret Lindqvist, Chief "
          "Executive Officer"),
        H1("2 Integrity of data and products"),
        P("Test results, calibration records and field data must never be altered, selectively left out or "
          "back-dated. If a test fails, record it as failed. Falsifying test or calibration data is gross misconduct."),
        UL("Calibration records are kept for at least 7 years after the instrument is shipped.",
           f"Report a suspected product safety issue to the Quality team within 24 hours at {mail('quality')}.",
           "Never ship an instrument whose final test certificate has not been signed by an authorised tester."),
        H1("3 Respect at work"),
        P("Everyone has the right to be treated with dignity. We do not tolerate harassment, bullying, discrimination "
          "or victimisation, whether in person, online or at work social events. Decisions about recruitment, pay, "
          "promotion and development are based on ability and performance, and we make reasonable adjustments for "
          "disabled colleagues and candidates. Concerns about behaviour can be raised through any of the channels in "
          "section 9 as well as through the grievance procedure in the Employee Handbook."),
        H1("4 Conflicts of interest"),
        P("A conflict of interest arises when your personal interests, or those of people close to you, could affect "
          "or appear to affect your judgement at work. Having a conflict is not wrong in itself; hiding one is. Declare "
          "any actual or potential conflict within 14 days of becoming aware of it, using the Declarations form in "
          "PeopleDesk. Typical situations that must be declared include:"),
        UL("A second job or paid consultancy. This needs written approval from your Head of Department and the People "
           "Team before you start.",
           "A shareholding of more than 1% in a supplier, customer or competitor.",
           "A partner or close family member who works for a supplier you deal with, or who would report to you.",
           "Serving as a director or trustee of another organisation. Charity trusteeships are encouraged, but they "
           "must still be declared."),
        H1("5 Gifts and hospitality"),
        P("Modest gifts and hospitality can build good relationships, but they must never influence, or appear to "
          "influence, a business decision. Cash, gift cards and vouchers must never be given or accepted, whatever the "
          "amount. The thresholds below apply to each gift or event, and gifts from the same organisation are added "
          "together over any 12-month period."),
        TABLE(["Value of the gift or hospitality", "What you must do"],
              [["Up to £50", "You may accept it; no record is needed."],
               ["£50.01 to £150", "Record it in the Gifts and Hospitality Register and get your line manager's "
                "approval."],
               ["Above £150", "Decline politely. If refusing would cause offence, accept it on behalf of the company "
                "and hand it to the Legal team."]],
              [0.32, 0.68]),
        UL("No gift or hospitality of any value may be accepted from a supplier that is taking part in a live tender "
           "with Marlowe.",
           "Hospitality that includes travel or overnight accommodation always needs approval from the Legal team, "
           "whatever its value.",
           "The limits for entertaining customers are set in the Travel and Expense Policy."),
        H1("6 Anti-bribery and fair competition"),
        P("Marlowe has zero tolerance of bribery, in line with the UK Bribery Act 2010. This includes facilitation "
          "payments, which are small unofficial payments to speed up routine actions such as customs clearance. If you "
          "are asked for such a payment, refuse and report the request to the Legal team within 24 hours. Agents and "
          "distributors must pass due diligence checks before they are appointed and are checked again every 2 years. "
          "Never discuss prices, bids, customers or market sharing with competitors, including informally at trade "
          "association events."),
        H1("7 Export controls"),
        P("Some RiverEye Pro probes and TideLog satellite units contain encryption modules that are subject to UK "
          "export controls. Every shipment of these products to a destination outside the United Kingdom and the "
          "European Union needs an export classification check by the Trade Compliance team before it is dispatched. "
          "The same applies to sending technical drawings or firmware source code abroad, including by email."),
        H1("8 Protecting information"),
        P("Information about our customers, designs, prices and colleagues must be protected, and your duty of "
          "confidentiality continues after you leave Marlowe. Personal data is handled in line with UK data protection "
          "law and the IT Security Policy. Only the Communications team speaks to journalists on behalf of the "
          f"company; forward any media enquiry to {mail('press')}. On social media, do not post product roadmaps, "
          "customer names or photographs taken inside our laboratories. Confidential documents must be stored in "
          "company systems rather than personal cloud accounts, and printed copies must be shredded in the "
          "confidential waste bins when they are no longer needed. If you are not sure whether something can be "
          "shared, treat it as confidential and ask its owner."),
        H1("9 Speaking up"),
        H2("9.1 How to raise a concern"),
        P("If you see something that you think is wrong, speak up. You can raise a concern with any of the following:"),
        UL("your line manager or any senior manager;",
           f"the Ethics Officer, Catherine Hale, at {mail('ethics')};",
           "the independent ClearVoice hotline on 0808 157 0731, available 24 hours a day, where you can remain "
           "anonymous;",
           "the Chair of the Audit Committee, Dr Fiona Blackwood, for concerns about members of the Executive Team."),
        H2("9.2 What happens next"),
        P("Concerns are acknowledged within 3 working days, and we aim to complete investigations within 30 days, "
          "keeping you informed of progress where we can. Retaliation against anyone who raises a concern in good faith "
          "is itself a serious disciplinary offence."),
        H1("10 Political and charitable activity"),
        P("Marlowe makes no donations to political parties or candidates. Company donations to charities above £500 "
          "need approval from the Chief Executive Officer. You are free to take part in political activity in your own "
          "time, provided you do not suggest that you represent Marlowe."),
        H1("11 Annual certification"),
        P("Every employee completes the Code of Conduct e-learning module and confirms in PeopleDesk that they have "
          "followed the Code, each year by 31 March. Breaches of this Code are handled through the disciplinary "
          "procedure and, in serious cases, may be reported to the authorities."),
    ],
)

REMOTE = Doc(
    "hr/remote_work_policy.pdf",
    "Remote and Hybrid Working Policy",
    "Office attendance, working from home and working from another country",
    [("Version", "1.3"), ("Effective", "1 June 2025"), ("Owner", "Sunita Varma, Chief People Officer"),
     ("Applies to", "Employees in hybrid-eligible and field-based roles")],
    [
        H1("1 Purpose"),
        P("Marlowe supports hybrid working because it helps people do their best work and balance their lives. We "
          "also believe that the time we spend together in person matters for learning, product quality and "
          "friendship. This policy sets out who can work remotely, how often we meet in the office and the support "
          "available for working at home."),
        H1("2 Eligibility"),
        P("Every role is placed in one of three categories, recorded in PeopleDesk. New joiners in hybrid-eligible "
          "roles work from the office full-time for their first 4 weeks, so that they can get to know their team, "
          "before hybrid working starts."),
        TABLE(["Role category", "Examples", "Remote working"],
              [["Hybrid-eligible", "Software, finance, sales support, marketing, people team",
                "Yes, with the minimum office attendance in section 3"],
               ["Field-based", "Field service engineers, sales engineers",
                "Work from customer sites with home as base; attend the office on the team's anchor day"],
               ["Site-based", "Assembly, test, stores, calibration laboratory", "No"]],
              [0.22, 0.4, 0.38]),
        H1("3 Office attendance"),
        P("Hybrid-eligible employees spend at least 2 days a week in the office, measured as an average over each "
          "4-week period so that people can flex around school holidays and travel. Each team agrees one fixed anchor "
          "day a week when everyone attends, and records it on the team's intranet page. Managers may ask for "
          "additional office days for onboarding, workshops or customer visits, giving at least 5 working days' "
          "notice. Attendance is not tracked through badge data for individual performance purposes; it is reviewed "
          "in conversations between you and your manager."),
        H1("4 Your home workspace"),
        H2("4.1 Equipment"),
        P("The company provides a laptop, a 27-inch monitor, a keyboard, a mouse and a headset for home use. Request "
          "equipment through the IT Service Desk; it remains company property and must be returned when you leave. Faults are handled by the Service "
          "Desk in the same way as in the office; if a fault stops you working, go to the nearest office for the "
          "rest of the day rather than wait at home for a replacement. Keep the original boxes if you "
          "can, because they make it much easier to send equipment back for repair or when you leave."),
        H2("4.2 Allowances"),
        P("A one-off allowance of up to £300 is available for a desk or an ergonomic chair. Claim it in ExpenseHub, "
          "with receipts, within 6 months of starting hybrid working. Hybrid and field-based employees also receive a "
          "home-working allowance of £26 per month through payroll, as a contribution to heating, electricity and "
          "broadband costs."),
        H2("4.3 Health and safety"),
        P("Complete the online display screen equipment (DSE) self-assessment within 2 weeks of starting hybrid "
          "working, and again whenever your set-up changes. Report any accident that happens while you are working at "
          "home to your manager, in the same way as you would in the office."),
        H1("5 Working from another location"),
        H2("5.1 Elsewhere in the UK"),
        P("You may work from another address in the UK, such as a family home, for short periods, provided that you "
          "can work securely and privately and can get to the office on your team's anchor day. Tell your manager in "
          "advance."),
        H2("5.2 Working from abroad"),
        UL("You may work from outside the UK for up to 20 working days in each calendar year, for example to extend a "
           "visit to family.",
           "No single period of working abroad may last longer than 10 consecutive working days.",
           "Requests must be made in PeopleDesk at least 4 weeks in advance. Your manager and the People Team approve "
           "them after checking tax, immigration and insurance rules.",
           "Countries on the company's restricted travel list are not allowed, and export-controlled equipment, such "
           "as RiverEye Pro prototypes, must not be taken with you."),
        H1("6 Working together in a hybrid team"),
        P("Hybrid teams work best when nobody is at a disadvantage because of where they happen to be sitting. The "
          "following ground rules apply to every team, and teams may add their own in their team charter:"),
        UL("Every meeting with at least one remote participant has a video link, and the chair checks that remote "
           "colleagues can hear and contribute.",
           "Show your working location (office, home, customer site) in your Outlook calendar each day.",
           "During core hours, reply to direct chat messages within 2 hours or set a status that explains why you "
           "cannot.",
           "Avoid scheduling internal meetings on Friday afternoons after 14:00, so that everyone has time for "
           "focused work.",
           "Decisions made in a corridor conversation are written up in the team channel before they are acted on."),
        H2("6.1 Wellbeing and switching off"),
        P("Working from home can blur the line between work and the rest of life. Nobody is expected to read or reply "
          "to work messages outside their working hours, and colleagues who work late should use scheduled sending "
          "so that messages arrive during the recipient's day. Managers hold a one-to-one conversation with each "
          "hybrid team member at least every 2 weeks, which includes a check on workload and wellbeing. If you notice that you regularly work beyond your "
          "contracted hours to keep up, raise it with your manager, who will look at priorities with you rather "
          "than expect the extra hours to continue."),
        H2("6.2 Security and insurance at home"),
        P("Follow the IT Security Policy wherever you work. In addition, household members must not use your company "
          "laptop, and documents classed as Confidential or Restricted must not be printed at home. Company equipment "
          "in your home is covered by the company's insurance, so you do not need to add it to your home contents "
          "policy, but you should tell your home insurer that you sometimes work from home."),
        H1("7 Fully remote contracts"),
        P("Fully remote contracts are exceptional and must be approved by the Executive Team. Fully remote employees "
          "must live in the United Kingdom and attend in person at least once a quarter, including the company "
          "all-hands meeting; the travel costs of these visits are reimbursed under the Travel and Expense Policy."),
        H1("8 Asking for a different arrangement"),
        OL("Talk to your manager about what you would like to change and why.",
           "Submit a flexible working request in PeopleDesk; you can do this from your first day of employment.",
           "Your manager meets you to discuss the request within 14 days of receiving it.",
           "You receive a written decision within 2 months of your request, including any appeal.",
           "Agreed changes usually start with a trial period of 3 months."),
        P("Hybrid arrangements are reviewed at least once a year. If business needs change, for example when a team "
          "takes on a project that needs daily collaboration in the laboratory, your manager can change the "
          "arrangement after discussing it with you, giving at least 4 weeks' notice of the change."),
    ],
)

# ----------------------------------------------------------------------------------------------- DOCX

IT_SECURITY = Doc(
    "it/it_security_policy.docx",
    "IT Security Policy",
    "How we protect Marlowe's accounts, devices and information",
    [("Version", "5.0"), ("Effective", "1 September 2025"), ("Owner", "Tomasz Wielgus, Head of Information Security")],
    [
        H1("Purpose and scope"),
        P("This policy applies to everyone who has a Marlowe account, to every company device and to personal devices "
          "used to access company systems. Its aim is simple: keep our customers' data, our designs and our "
          "colleagues' personal information safe, without getting in the way of everyday work."),
        H1("Passwords"),
        H2("Password requirements"),
        UL("Passwords must be at least 14 characters long. A passphrase of four or more unrelated words is "
           "recommended.",
           "Do not include your name, your username or the word Marlowe.",
           "Never reuse a Marlowe password on another website, and never reuse any of your previous 10 Marlowe "
           "passwords.",
           "Passwords are not changed on a fixed schedule. Change yours immediately if you suspect that it has been "
           "exposed.",
           "After 8 failed sign-in attempts, the account is locked for 15 minutes."),
        H2("Password manager"),
        P("Every employee has a Vaultline Business password manager account. Store all work passwords in Vaultline, "
          "never in browsers, spreadsheets or notes. Shared team credentials live in Vaultline shared folders, each "
          "owned by a named team lead. Your Vaultline master password must be at least 16 characters long and must "
          "not be used anywhere else."),
        H1("Multi-factor authentication"),
        P("Multi-factor authentication (MFA) is required for every company system that supports it, including email, "
          "the VPN, PeopleDesk, ExpenseHub, Marlowe Cloud Monitor administration and all other cloud services. The "
          "approved methods are:"),
        TABLE(["Method", "Who may use it", "Notes"],
              [["Authenticator app push with number matching", "Everyone",
                "The default method, using the Marlowe Authenticator app on a company or personal phone"],
               ["FIDO2 security key", "Required for system administrators and Finance approvers",
                "Issued by the IT Service Desk; keep it separate from your laptop bag"],
               ["SMS code", "Temporary fallback only",
                "Allowed for no more than 7 days while a replacement app or key is set up"]]),
        P("Never approve an MFA prompt that you did not start yourself. If you receive one, deny it and report it as "
          "a security incident."),
        H2("Lost or replaced MFA device"),
        P("If you lose the phone or key you use for MFA, or change phones, contact the IT Service Desk. Before "
          "resetting your MFA, the Service Desk verifies your identity on a video call with your line manager present."),
        H1("Devices"),
        H2("Company laptops"),
        UL("Full-disk encryption (BitLocker on Windows, FileVault on macOS) must stay switched on.",
           "The screen locks automatically after 5 minutes of inactivity; lock it yourself whenever you step away.",
           "Operating system and security updates must be installed within 14 days of release, and updates rated "
           "critical within 72 hours.",
           "Laptops that have not connected to the company network or VPN for 30 days are blocked until the IT Service "
           "Desk has checked them.",
           "Users do not have local administrator rights."),
        H2("Mobile phones and personal devices"),
        P("Personal phones and tablets may be used for email, Teams and calendar only through the Intune-managed "
          "apps, protected by a 6-digit PIN or biometrics. Company data must not be stored on personal laptops or home "
          "computers. If a personal device with company apps is lost, the company can remove the company apps and "
          "their data, but never your personal data."),
        H2("Removable media"),
        P("USB storage devices are blocked by default. If you need to move data to a customer's offline system, "
          "borrow an encrypted company USB drive from the IT Service Desk and return it within 5 working days."),
        H2("Working away from the office"),
        UL("Connect to the VPN on every network other than the Marlowe office networks, including hotel, train and "
           "café Wi-Fi.",
           "Use a privacy screen filter when working in public places.",
           "Never leave a laptop in a car overnight or on view in a parked car."),
        H1("Email and phishing"),
        P("Phishing is the most common way attackers get into companies like ours. Report suspicious messages with "
          "the Report Phishing button in Outlook; do not forward them to colleagues. The security team runs simulated "
          "phishing exercises every quarter, and anyone who clicks on 3 simulated phishing emails within 12 months "
          "completes a 30-minute refresher course. Warning signs include:"),
        UL("a sender address that does not match the organisation it claims to be from;",
           "urgent requests to pay an invoice, change bank details or buy gift cards;",
           "links to sign-in pages that arrive unexpectedly;",
           "attachments you were not expecting, especially compressed or macro-enabled files."),
        H1("Classifying and handling information"),
        TABLE(["Classification", "Examples", "Handling rules"],
              [["Public", "Product brochures, published datasheets, press releases", "No restrictions"],
               ["Internal", "Policies, organisation charts, meeting notes", "Share only within Marlowe"],
               ["Confidential", "Customer contracts, price lists, unreleased firmware, salary data",
                "Share only with people who need it; encrypt before sending outside Marlowe"],
               ["Restricted", "Customer monitoring data, employees' personal data, code-signing keys, "
                "export-controlled designs",
                "Named access only; never on removable media; never entered into AI tools"]]),
        H1("Software and cloud services"),
        UL("Install software only from the Company Portal.",
           "Request new software or cloud services through the IT Service Desk; Information Security reviews each "
           "request within 10 working days.",
           "Browser extensions are limited to the approved list published on the intranet.",
           "Only the approved Marlowe Assistant may be used with Internal or Confidential information. Public AI "
           "chatbots may be used with Public information only."),
        H1("Reporting a security incident"),
        H2("What to report"),
        UL("a lost or stolen laptop, phone, security key or badge;",
           "a link you clicked or an attachment you opened in a suspicious email;",
           "MFA prompts that you did not start;",
           "information sent to the wrong person;",
           "malware or ransomware warnings;",
           "someone you do not recognise in a secure area such as the calibration laboratory."),
        H2("How to report an incident"),
        OL("Report immediately. A lost or stolen device must be reported within 1 hour of noticing that it is missing.",
           f"Email {mail('security')} or call the 24/7 Security Operations hotline on 0113 496 0999.",
           "Give your name, the device or account involved, what happened and when.",
           "Do not investigate yourself, delete suspicious emails or switch off an infected computer; disconnect it "
           "from the network instead.",
           "Follow the security team's instructions and keep the incident reference number they give you."),
        P("Nobody is ever disciplined for reporting an incident quickly, even if they made the mistake that caused "
          "it. Hiding an incident, however, is treated as a serious breach of this policy."),
        H1("Access management"),
        UL("Access to systems is requested through the IT Service Desk and approved by the system owner.",
           "Managers review their team's access every quarter.",
           "Leavers' accounts are disabled at 17:00 on their last working day.",
           "When someone changes role, access they no longer need is removed within 5 working days."),
        H1("Compliance and exceptions"),
        P("Breaches of this policy are handled through the disciplinary procedure. Exceptions need written approval "
          "from the Head of Information Security and are reviewed every 6 months."),
    ],
)

ONBOARDING = Doc(
    "hr/onboarding_guide.docx",
    "Onboarding Guide",
    "Your first week and first 90 days at Marlowe",
    [("Version", "2025.2"), ("Updated", "September 2025"), ("Owner", "Hannah Beckett, Onboarding Lead")],
    [
        H1("Welcome"),
        P("Welcome to Marlowe Sensor Systems. This guide walks you through your first days and weeks, tells you who "
          "can help and lists the systems you will use. Your manager and your onboarding buddy will go through it "
          "with you, and you can tick off the tasks in the onboarding task list in PeopleDesk."),
        H1("Before your first day"),
        H2("What to bring"),
        UL("your passport, or the share code that proves your right to work in the UK;",
           "your P45 from your previous employer, or a completed starter checklist if you do not have one;",
           "your bank account details and National Insurance number;",
           "the name and phone number of an emergency contact."),
        H2("Your first morning"),
        P("Arrive at 09:30 on your first day and ask at reception for your onboarding buddy, who will take you to your "
          "team. In Glasgow, reception is on the 3rd floor. At the Wakefield plant, report to the gatehouse, where you "
          "will be given safety boots and high-visibility clothing; send your shoe size to your manager at least a "
          "week before you start."),
        H2("Your equipment"),
        P("Engineering and software roles receive a 14-inch MacBook Pro; all other roles receive a Lenovo ThinkPad "
          "T14. In Leeds, collect your laptop and ID badge from the IT bar on the 2nd floor at Canal Wharf. In Glasgow "
          "and Wakefield, your laptop is waiting at reception."),
        H1("Your first week"),
        P("Work through this checklist with your manager and your buddy:"),
        OL("Day 1: collect your laptop and ID badge.",
           "Day 1: set up multi-factor authentication and your Vaultline password manager before you sign in to any "
           "other system.",
           "Day 1: meet your line manager for an introduction to your role, your team and your objectives.",
           "Day 2: complete the right-to-work check with the People Team and enter your bank details and emergency "
           "contact in PeopleDesk.",
           "Day 2: have a first coffee with your onboarding buddy, then meet for 15 minutes every day for the rest of "
           "the week.",
           "Day 3: agree your 30-60-90-day goals with your manager.",
           "By day 5: complete the mandatory e-learning modules: Information Security (40 minutes), Code of Conduct, "
           "Health and Safety (30 minutes) and Data Protection (25 minutes).",
           "By day 5: book your place at the next Marlowe 101 welcome session.",
           "Day 5: have an end-of-week check-in with your manager (30 minutes) to review the week and answer your "
           "questions."),
        H1("Your first 90 days"),
        H2("Marlowe 101"),
        P("Marlowe 101 is a half-day welcome session held on the first Wednesday of every month from 13:30 to 17:00 at "
          "Canal Wharf, with a video link for colleagues in Glasgow and those working remotely. It includes a talk by a "
          "member of the Executive Team and a live RiverEye demonstration in the calibration laboratory."),
        H2("Plant visit"),
        P("Everyone who does not work at Wakefield visits the plant within their first 90 days. Tours run on the "
          "second Thursday of each month, and a minibus leaves Canal Wharf at 09:00."),
        H2("Your 30-60-90-day plan"),
        TABLE(["Milestone", "Focus", "Check-in"],
              [["Day 30", "Learn: people, products, tools and processes", "1:1 with your manager and onboarding survey"],
               ["Day 60", "Contribute: your first deliverables", "1:1 with your manager"],
               ["Day 90", "Own: full responsibilities of the role", "Formal review with your manager and onboarding "
                "survey"]]),
        H2("Your onboarding buddy"),
        P("Your buddy is an experienced colleague from outside your immediate team, chosen by your manager before "
          "you start. They are your first point of contact for everyday questions, from where to find the best "
          "coffee to how a process really works, for your first 3 months."),
        H1("Who to contact"),
        TABLE(["Need help with", "Contact", "How to reach them"],
              [["Laptop, accounts, passwords and MFA", "IT Service Desk", f"{mail('servicedesk')} or extension 4357"],
               ["Pay, payslips and tax codes", "Meera Shah, Payroll Manager", mail("payroll")],
               ["Contract, probation and policies (Engineering and Software)", "Liam O'Connell, HR Business Partner",
                mail("liam.oconnell")],
               ["Contract, probation and policies (Operations, Sales and Wakefield)", "Aisha Rahman, HR Business Partner",
                mail("aisha.rahman")],
               ["Onboarding programme and Marlowe 101", "Hannah Beckett, Onboarding Lead", mail("onboarding")],
               ["Building access, desks and parking", "Facilities team", "See the Office and Facilities Guide"],
               ["Business travel bookings", "Voyagr Business Travel", "Travel page on the intranet"]]),
        H1("Systems you will use"),
        TABLE(["System", "What it is for"],
              [["PeopleDesk", "HR: leave, payslips, learning, personal details, onboarding tasks"],
               ["ExpenseHub", "Trip approval and expense claims"],
               ["Vaultline", "Password manager"],
               ["Company Portal", "Installing approved software"],
               ["Marlowe Cloud Monitor", "Our customer platform; staff use the demonstration tenant for training"]]),
    ],
)

FAQ = Doc(
    "general/faq.docx",
    "Frequently Asked Questions",
    "Answers to the questions colleagues ask most often",
    [("Maintained by", "People Team and Internal Communications"), ("Updated", "October 2025")],
    [
        H1("About this FAQ"),
        P("This page collects the questions that colleagues ask the People Team and Internal Communications most often. "
          "If your question is not here, check the policies on the intranet or ask your HR Business Partner."),
        H1("Pay and payroll"),
        H2("What happens if my pay is wrong?"),
        P(f"Email the payroll team at {mail('payroll')} with your payslip and a short explanation. If you have been "
          "underpaid by more than £100, the difference is paid by an off-cycle bank transfer within 5 working days; "
          "smaller amounts are corrected in the next month's salary. Overpayments are recovered over the same number "
          "of months in which they occurred, unless you prefer to repay sooner."),
        H2("Where can I find my P60 and P11D?"),
        P("Your P60 for the previous tax year is published in the Documents area of PeopleDesk by 31 May. P11D forms, "
          "which list taxable benefits, are published there by 6 July."),
        H2("Can I get an advance on my salary?"),
        P("In cases of genuine hardship, the Chief People Officer can approve a salary advance of up to 50% of your "
          "monthly net pay, once in any 12 months. The advance is repaid from your salary over up to 3 months."),
        H1("Recognition and community"),
        H2("How does the Ripple Award work?"),
        P("The Ripple Award recognises colleagues whose work made a difference beyond their own team. Anyone can "
          "nominate a colleague on the Recognition page of the intranet. To make a nomination:"),
        OL("Describe what your colleague did and who benefited, in no more than 200 words.",
           "Submit the form before nominations close on the last Friday of the quarter.",
           "A panel of 5 volunteers from different sites chooses up to 4 winners each quarter.",
           "Each winner receives £250, added to their next salary before tax."),
        H2("Does Marlowe match charity fundraising?"),
        P("Yes. The company matches money you personally raise for a UK-registered charity, up to £500 per employee "
          "in each calendar year. Send the matching request through the intranet form, with evidence of the amount "
          "raised, within 3 months of the event."),
        H2("Are there long service awards?"),
        UL("5 years: a handwritten card from the Chief Executive and a tree planted in your name.",
           "10 years: £500 added to your salary.",
           "20 years: £1,500 added to your salary and dinner for two at a restaurant of your choice."),
        H1("Workplace and equipment"),
        H2("Can I bring my dog to work?"),
        P("Well-behaved dogs are welcome at the Glasgow office on Fridays only, once you have registered them with the "
          "office coordinator. Dogs are not allowed at Canal Wharf or at the Wakefield plant. Assistance dogs are "
          "welcome at every site on every day."),
        H2("Can I claim for my home broadband?"),
        P("No. Home broadband, energy and phone costs are not reimbursed as expenses. Hybrid employees receive the "
          "monthly home-working allowance described in the Remote and Hybrid Working Policy instead."),
        H2("I have lost my ID badge. What should I do?"),
        P("Tell reception at your site on the same day so that the badge can be cancelled. Your first replacement is "
          "free; any further replacement costs £10, deducted from your salary."),
        H2("Can I buy my old laptop when it is replaced?"),
        P("No. Laptops are replaced every 4 years. Old laptops are wiped and recycled through a certified partner and "
          "are not sold to employees, for security reasons."),
        H1("Career and internal moves"),
        H2("Can I apply for a job in another team?"),
        P("Yes, once you have been in your current role for 12 months, or for 6 months if your manager supports the "
          "move. Tell your manager before you apply. Internal candidates who meet the essential criteria for a role "
          "are guaranteed an interview."),
        H1("Getting help"),
        H2("Who can I talk to if I am struggling?"),
        P("You can talk to any of the following, in confidence:"),
        UL("your manager or your HR Business Partner;",
           "one of the 24 trained Mental Health First Aiders across our sites, listed on the intranet;",
           "the Employee Assistance Programme described in the Benefits Summary."),
    ],
)

FACILITIES_MD = f"""# Office and Facilities Guide

Practical information about Marlowe Sensor Systems' three sites. Maintained by Gareth Pryce, Facilities Manager
({mail('facilities')}). Last updated August 2025.

## Our sites

| Site | Address | Building open |
|---|---|---|
| Leeds head office (Canal Wharf House) | 14 Canal Wharf, Leeds LS11 5PY | 07:00–20:00, Monday to Friday |
| Glasgow engineering centre | 3rd floor, Kingston Quay House, 40 Kingston Street, Glasgow G5 8BP | 07:30–19:00, Monday to Friday |
| Wakefield plant | Unit 4, Heron Way, Wakefield WF2 7QX | 05:30–22:30, Monday to Friday |

Reception at Canal Wharf is staffed from 08:00 to 18:00. The Wakefield plant also opens on Saturdays from 06:00
to 14:00 when overtime shifts are scheduled.

## Access and ID badges

- Wear your ID badge visibly at all times on every site.
- Weekend and bank-holiday access needs approval from Facilities at least 48 hours in advance.
- Anyone working alone in a building outside opening hours must check in and out with the security desk by phone.

## Visitors

- Register visitors in the visitor system by 17:00 on the working day before their visit.
- Visitors sign in at reception, wear a red visitor lanyard and are escorted at all times.
- Visitors to the calibration laboratory or the clean room sign a non-disclosure agreement at reception.

## Parking and getting here

### Leeds

Canal Wharf has 40 car parking spaces, including 6 accessible bays and 8 electric-vehicle charging points. Spaces
must be booked in the ParkIt app by 18:00 on the previous working day; blue badge holders can book up to two weeks
ahead. There is a secure bike store with 30 racks, and showers and lockers on the ground floor.

### Glasgow

There is no on-site parking at Kingston Quay House. The office is a 6-minute walk from Bridge Street subway
station, and there are 12 bike racks in the building's courtyard.

### Wakefield

The plant car park has 120 spaces and does not need to be booked.

## Meeting rooms

Book rooms through Outlook. Bookings are limited to 2 hours unless Facilities agrees a longer slot, and rooms not
checked into within 15 minutes of the start time are released automatically.

| Room | Site and floor | Seats | Equipment |
|---|---|---|---|
| Aire | Leeds, 1st floor | 12 | Video conferencing, whiteboard |
| Calder | Leeds, 1st floor | 6 | Screen |
| Wharfe | Leeds, 2nd floor | 4 | Screen |
| Ouse (boardroom) | Leeds, 3rd floor | 20 | Video conferencing; booked only through Joanna Pike, Executive Assistant to the CEO |
| Clyde | Glasgow | 10 | Video conferencing |
| Kelvin | Glasgow | 4 | Screen |

## Kitchens and food

- Tea, coffee and milk are free at every site.
- Canal Wharf has free fruit on Mondays and Wednesdays.
- The Wakefield canteen is open from 05:45 to 14:30, and a hot lunch costs £3.50.
- Please label food in shared fridges; fridges are cleared every Friday at 16:00.

## Health and safety

### Fire alarms and evacuation

- The fire alarm at Canal Wharf is tested every Wednesday at 11:00. At Wakefield it is tested every Monday at 07:30.
- If the alarm sounds at any other time, leave by the nearest exit without collecting belongings.
- The Canal Wharf assembly point is Assembly Point A, on the towpath opposite the main entrance.

### First aid and accidents

- The names of first aiders are on the noticeboard by every lift and at the plant gatehouse.
- Defibrillators are kept at Canal Wharf reception and at the Wakefield gatehouse.
- Report every accident and near miss within 24 hours using the SafetyHub form on the intranet.

## Printing and post

- Print to the FollowMe queue and release your job at any printer by tapping your badge.
- Outgoing post is collected from reception at 15:30 each working day.
- Courier shipments of RiverEye equipment are booked through the Stores team at Wakefield.

## Lost property

Reception keeps lost property for 30 days. Unclaimed items are then donated to charity or recycled.

## Facilities requests

Raise routine requests, such as a broken chair or a desk move, in the Facilities section of the IT Service Desk
portal. For urgent problems such as leaks, power cuts or a security concern, call the facilities duty phone on
0113 496 0420.
"""

HOLIDAYS_TXT = """MARLOWE SENSOR SYSTEMS LTD
PUBLIC HOLIDAYS AND COMPANY CLOSURE DAYS - 2026
Published by the People Team, September 2025

How to read this calendar
-------------------------
Public holidays follow the country of your office. Leeds head office and the Wakefield plant
follow the holidays for England; the Glasgow engineering centre follows the holidays for
Scotland. Field-based and fully remote employees follow the office named in their contract.

ENGLAND - Leeds head office and Wakefield plant (8 days)
  Thu 1 January 2026      New Year's Day
  Fri 3 April 2026        Good Friday
  Mon 6 April 2026        Easter Monday
  Mon 4 May 2026          Early May bank holiday
  Mon 25 May 2026         Spring bank holiday
  Mon 31 August 2026      Summer bank holiday
  Fri 25 December 2026    Christmas Day
  Mon 28 December 2026    Boxing Day (substitute day)

SCOTLAND - Glasgow engineering centre (9 days)
  Thu 1 January 2026      New Year's Day
  Fri 2 January 2026      2nd January
  Fri 3 April 2026        Good Friday
  Mon 4 May 2026          Early May bank holiday
  Mon 25 May 2026         Spring bank holiday
  Mon 3 August 2026       Summer bank holiday
  Mon 30 November 2026    St Andrew's Day
  Fri 25 December 2026    Christmas Day
  Mon 28 December 2026    Boxing Day (substitute day)

MARLOWE DAY - all sites
  Fri 10 July 2026        Marlowe Day, the anniversary of the company's founding. An extra paid
                          day off for every employee; it is NOT deducted from annual leave.
                          Colleagues who have to work that day (for example plant maintenance)
                          receive a day off in lieu, to be taken by 30 September 2026.

CHRISTMAS CLOSURE - all sites (3 days, deducted from annual leave)
  Tue 29 December 2026
  Wed 30 December 2026
  Thu 31 December 2026
  All sites reopen on Monday 4 January 2027 (Friday 1 January 2027 is New Year's Day).

WAKEFIELD SUMMER SHUTDOWN - Wakefield plant only (5 days, deducted from annual leave)
  Mon 3 August 2026 to Fri 7 August 2026

Questions about this calendar: contact your HR Business Partner.
"""

PDF_DOCS = [HANDBOOK, LEAVE, TRAVEL, BENEFITS, CONDUCT, REMOTE]
DOCX_DOCS = [IT_SECURITY, ONBOARDING, FAQ]
TEXT_FILES = {"general/office_facilities_guide.md": FACILITIES_MD,
              "general/holiday_calendar_2026.txt": HOLIDAYS_TXT}

README = """# Sample documents

These files belong to Marlowe Sensor Systems Ltd, a fictional maker of water-quality instruments invented for
this project: every name, number, address (`marlowe-sensors.example`) and phone number (Ofcom drama ranges) is made
up, and all text was written for `kb`. `tools/make_sample_docs.py` regenerates them (needs reportlab) and
`--check` verifies them. `hr/employee_handbook.pdf` covers job bands, probation, notice, hours, pay, bonus,
discipline and referrals; `hr/leave_policy.pdf` annual leave, carry-over, part-time pro-rating, sick pay, family
and other leave; `hr/benefits_summary.pdf` medical plans, pension, protection and wellbeing;
`hr/remote_work_policy.pdf` office attendance, home-working allowances and working abroad;
`finance/travel_expense_policy.pdf` approval thresholds, per diems, mileage, claims and corporate cards;
`general/code_of_conduct.pdf` data integrity, conflicts of interest, gifts, anti-bribery and speaking up;
`it/it_security_policy.docx` passwords, MFA, devices, phishing, data classification and incident reporting;
`hr/onboarding_guide.docx` the first-week checklist, first 90 days and who to contact; `general/faq.docx` common
questions on pay, recognition, the workplace and internal moves; `general/office_facilities_guide.md` sites,
parking, meeting rooms and safety; `general/holiday_calendar_2026.txt` public holidays and closure days; and
`questions.jsonl` evaluation questions with the file and page (PDF) or heading (DOCX/Markdown) of each answer,
including follow-ups and questions the documents cannot answer.
"""

# ===================================================================================================
# Questions. "key" (not written to questions.jsonl) lists phrases that must all occur on each cited
# page/section; it defaults to the answer itself, and a source may override it (S(..., key=[...])).
# ===================================================================================================


def S(name, page=None, heading=None, key=None):
    """A source: PDF page (1-based) or DOCX/Markdown heading; ``key`` overrides the question's key phrases."""
    return {"name": name, "page": page, "heading": heading, "key": key}


QUESTIONS: list[dict] = [
    # --- leave policy
    dict(id="q01", question="How many days of annual leave do full-time staff get?",
         answer="25 days a year, plus public holidays", key=["25 days of paid annual leave"],
         sources=[S("leave_policy.pdf", 1)]),
    dict(id="q02", follow_up_of="q01", question="And part-time staff?",
         answer="Pro-rated: full-time entitlement × contracted weekly hours ÷ 37.5, rounded up to the nearest half day",
         key=["multiplied by your contracted weekly hours divided by 37.5", "rounded up to the nearest half day"],
         sources=[S("leave_policy.pdf", 2)]),
    dict(id="q03", question="I work 30 hours a week. How much annual leave do I get before service increments?",
         answer="20 days (150 hours)", key=["30 hours", "20 days", "150 hours"], sources=[S("leave_policy.pdf", 2)]),
    dict(id="q04", question="Can unused holiday be rolled into next year, and until when?",
         answer="Up to 5 days, which must be taken by 31 March",
         key=["Up to 5 days of unused annual leave may be carried over", "31 March"],
         sources=[S("leave_policy.pdf", 2)]),
    dict(id="q05", question="What is the holiday allowance for someone with 9 years at the company?",
         answer="28 days", key=["8 years or more", "28 days"], sources=[S("leave_policy.pdf", 1)]),
    dict(id="q06", question="How much company sick pay does an employee with three years' service get?",
         answer="8 weeks at full pay, then 8 weeks at half pay", key=["2 years to 5 years", "8 weeks"],
         sources=[S("leave_policy.pdf", 3)]),
    dict(id="q07", question="From which day of illness do I need a doctor's fit note?",
         answer="From the 8th calendar day", key=["From the 8th calendar day of sickness"],
         sources=[S("leave_policy.pdf", 3)]),
    dict(id="q08", question="How long is paternity leave for the partner, and is it paid?",
         answer="4 weeks at full pay", key=["4 weeks of partner leave at full pay"], sources=[S("leave_policy.pdf", 4)]),
    dict(id="q09", follow_up_of="q08", question="What about the mother?",
         answer="Up to 52 weeks of maternity leave; with 12 months' service, 16 weeks at full pay then 10 weeks at half "
                "pay, then Statutory Maternity Pay",
         key=["52 weeks of maternity leave", "16 weeks at full pay, followed by 10 weeks at half pay"],
         sources=[S("leave_policy.pdf", 3)]),
    dict(id="q10", question="How many keeping-in-touch days can I work while on maternity leave?",
         answer="Up to 10 KIT days", key=["up to 10 keeping-in-touch (KIT) days"], sources=[S("leave_policy.pdf", 4)]),
    dict(id="q11", question="My grandmother died. How much paid bereavement leave can I take?",
         answer="2 days", key=["grandparent, grandchild or in-law", "2 days"], sources=[S("leave_policy.pdf", 5)]),
    dict(id="q12", question="Do we get paid time off to volunteer for a charity?",
         answer="Yes, 2 days per leave year", key=["Volunteering", "2 days per leave year"],
         sources=[S("leave_policy.pdf", 5)]),
    # --- employee handbook
    dict(id="q13", question="On what day of the month are salaries paid?",
         answer="The 25th of each month (the last working day before it if the 25th is a weekend or bank holiday)",
         key=["on the 25th of each month"], sources=[S("employee_handbook.pdf", 3)]),
    dict(id="q14", question="What notice period applies to a senior engineer in Band 4?",
         answer="8 weeks", key=["Senior engineers, team leads", "8 weeks"], sources=[S("employee_handbook.pdf", 2)]),
    dict(id="q15", question="How long does probation last for a manager?",
         answer="9 months (Band 5)", key=["Managers, principal engineers", "9 months"],
         sources=[S("employee_handbook.pdf", 2)]),
    dict(id="q16", question="What is my yearly training budget?", answer="£1,200 per financial year",
         key=["£1,200 per financial year"], sources=[S("employee_handbook.pdf", 4)]),
    dict(id="q17", question="What bonus do I get if I refer an engineer who gets hired?",
         answer="£2,000 (Band 3 and above), paid once the hire completes probation",
         key=["£2,000 for hires into Band 3 and above"], sources=[S("employee_handbook.pdf", 4)]),
    dict(id="q18", question="Is there extra pay for working the late shift at the plant?",
         answer="Yes, a shift allowance of 12% of basic pay per late shift", key=["12% of basic pay"],
         sources=[S("employee_handbook.pdf", 3)]),
    dict(id="q19", question="How long does a first written warning stay on file?", answer="6 months",
         key=["First written warning, which remains live on your file for 6 months"],
         sources=[S("employee_handbook.pdf", 4)]),
    # --- travel and expenses
    dict(id="q20", question="How much can I claim for driving 120 business miles in my own car?",
         answer="£54 (120 miles × 45p)", key=["first 10,000 business miles", "45p"],
         sources=[S("travel_expense_policy.pdf", 2)]),
    dict(id="q21", question="What is the daily meal allowance on a business trip to New York?", answer="US$95",
         key=["New York, Boston, San Francisco", "US$95"], sources=[S("travel_expense_policy.pdf", 3)]),
    dict(id="q22", question="What is the maximum hotel rate per night in London?", answer="£180",
         key=["London", "£180"], sources=[S("travel_expense_policy.pdf", 3)]),
    dict(id="q23", question="Who has to approve a trip estimated at £4,000?", answer="The Director of the function",
         key=["£2,500.01 to £10,000", "Director of the function"], sources=[S("travel_expense_policy.pdf", 1)]),
    dict(id="q24", question="What is the deadline for submitting an expense claim?",
         answer="Within 30 days; claims more than 90 days old are rejected",
         key=["within 30 days of the date the cost was incurred", "more than 90 days"],
         sources=[S("travel_expense_policy.pdf", 3)]),
    dict(id="q25", question="Which cabin class can I book for an 8-hour flight?", answer="Premium economy",
         key=["Premium economy for flights of 6 hours or more"], sources=[S("travel_expense_policy.pdf", 2)]),
    dict(id="q26", question="How much per person can I spend taking a customer out to dinner?",
         answer="£75 per head, including drinks and service", key=["£75 per head"],
         sources=[S("travel_expense_policy.pdf", 3)]),
    dict(id="q27", question="What per diem applies to a trip to Tokyo?", answer="£50 per day (rest of the world rate)",
         key=["Rest of the world", "£50"], sources=[S("travel_expense_policy.pdf", 3)]),
    # --- benefits
    dict(id="q28", question="What is the deductible on the Plus medical plan?", answer="£100 a year",
         key=["Plus", "£100"], sources=[S("benefits_summary.pdf", 1)]),
    dict(id="q29", question="If I choose the Premier plan for my whole family, how much comes out of my salary each "
                            "month?",
         answer="£256.00 (£318.00 premium minus the £62.00 company contribution)", key=["£318.00", "£62.00"],
         sources=[S("benefits_summary.pdf", 1)]),
    dict(id="q30", question="If I put 5% of my salary into the pension, how much does the company add?",
         answer="8%", key=["5%", "8%"], sources=[S("benefits_summary.pdf", 2)]),
    dict(id="q31", question="How much life insurance cover do employees have?", answer="4 times basic annual salary",
         key=["4 times your basic annual salary"], sources=[S("benefits_summary.pdf", 2)]),
    dict(id="q32", question="What number do I call for the employee assistance programme?",
         answer="0808 157 0246 (Kindred EAP, 24 hours)", key=["0808 157 0246"], sources=[S("benefits_summary.pdf", 3)]),
    # --- code of conduct
    dict(id="q33", question="A supplier sent me a gift worth about £100. Can I keep it?",
         answer="Yes, if you record it in the Gifts and Hospitality Register and get your line manager's approval",
         key=["£50.01 to £150", "Gifts and Hospitality Register"], sources=[S("code_of_conduct.pdf", 2)]),
    dict(id="q34", question="What is the phone number of the anonymous whistleblowing hotline?",
         answer="0808 157 0731 (ClearVoice, 24 hours a day)", key=["ClearVoice hotline on 0808 157 0731"],
         sources=[S("code_of_conduct.pdf", 3)]),
    dict(id="q35", question="How quickly must I declare a conflict of interest?", answer="Within 14 days",
         key=["within 14 days of becoming aware of it"], sources=[S("code_of_conduct.pdf", 1)]),
    # --- remote work
    dict(id="q36", question="How many days a week do hybrid workers have to be in the office?",
         answer="At least 2 days a week, averaged over each 4-week period", key=["at least 2 days a week in the office"],
         sources=[S("remote_work_policy.pdf", 1)]),
    dict(id="q37", question="How long am I allowed to work from another country?",
         answer="Up to 20 working days per calendar year, no more than 10 consecutive working days",
         key=["up to 20 working days in each calendar year", "10 consecutive working days"],
         sources=[S("remote_work_policy.pdf", 2)]),
    dict(id="q38", question="Is there money for a desk or chair for my home office?", answer="Up to £300, one-off",
         key=["one-off allowance of up to £300"], sources=[S("remote_work_policy.pdf", 2)]),
    # --- IT security (DOCX)
    dict(id="q39", question="What is the minimum length for a password?", answer="14 characters",
         key=["at least 14 characters"], sources=[S("it_security_policy.docx", heading="Password requirements")]),
    dict(id="q40", question="Am I allowed to use text-message codes as my second factor?",
         answer="Only as a temporary fallback, for no more than 7 days", key=["Temporary fallback only", "7 days"],
         sources=[S("it_security_policy.docx", heading="Multi-factor authentication")]),
    dict(id="q41", question="Who do I contact to report a security incident?",
         answer=f"{mail('security')} or the 24/7 Security Operations hotline 0113 496 0999",
         key=[mail("security"), "0113 496 0999"],
         sources=[S("it_security_policy.docx", heading="How to report an incident")]),
    dict(id="q42", question="After how long does my laptop screen lock itself?", answer="5 minutes of inactivity",
         key=["after 5 minutes of inactivity"], sources=[S("it_security_policy.docx", heading="Company laptops")]),
    dict(id="q43", question="I left my laptop on the train. How soon must I report it?", answer="Within 1 hour",
         key=["within 1 hour of noticing"], sources=[S("it_security_policy.docx", heading="How to report an incident")]),
    # --- onboarding (DOCX)
    dict(id="q44", question="What time should I arrive on my first day?", answer="09:30", key=["Arrive at 09:30"],
         sources=[S("onboarding_guide.docx", heading="Your first morning")]),
    dict(id="q45", question="Who should I ask about my payslip?", answer=f"Meera Shah, Payroll Manager ({mail('payroll')})",
         key=["Meera Shah, Payroll Manager", mail("payroll")],
         sources=[S("onboarding_guide.docx", heading="Who to contact"),
                  S("faq.docx", heading="What happens if my pay is wrong?", key=[mail("payroll")])]),
    dict(id="q46", question="When do I have to set up multi-factor authentication as a new starter?",
         answer="On day 1, before signing in to any other system",
         key=["Day 1: set up multi-factor authentication"], sources=[S("onboarding_guide.docx", heading="Your first week")]),
    # --- FAQ (DOCX)
    dict(id="q47", question="Can I bring my dog into the office?", answer="Only at the Glasgow office, on Fridays",
         key=["Glasgow office on Fridays only"], sources=[S("faq.docx", heading="Can I bring my dog to work?")]),
    dict(id="q48", question="Up to how much will the company match my charity fundraising?",
         answer="£500 per employee per calendar year", key=["up to £500 per employee"],
         sources=[S("faq.docx", heading="Does Marlowe match charity fundraising?")]),
    dict(id="q49", question="I was underpaid £300 this month. When will I get the money?",
         answer="By an off-cycle bank transfer within 5 working days", key=["more than £100", "within 5 working days"],
         sources=[S("faq.docx", heading="What happens if my pay is wrong?")]),
    # --- facilities guide (Markdown) and holiday calendar (text)
    dict(id="q50", question="How do I get a parking space at the Leeds office?",
         answer="Book one of the 40 spaces in the ParkIt app by 18:00 on the previous working day",
         key=["ParkIt app by 18:00"], sources=[S("office_facilities_guide.md", heading="Leeds")]),
    dict(id="q51", question="When is the weekly fire alarm test at Canal Wharf?", answer="Wednesdays at 11:00",
         key=["tested every Wednesday at 11:00"], sources=[S("office_facilities_guide.md", heading="Fire alarms and evacuation")]),
    dict(id="q52", question="When is Marlowe Day in 2026?", answer="Friday 10 July 2026",
         key=["Fri 10 July 2026"], sources=[S("holiday_calendar_2026.txt")]),
    dict(id="q53", question="Which days is the company closed between Christmas and New Year 2026 that come out of my "
                            "leave?",
         answer="29, 30 and 31 December 2026", key=["Tue 29 December 2026", "Thu 31 December 2026"],
         sources=[S("holiday_calendar_2026.txt")]),
    # --- not answerable from the documents (some deliberately close to covered topics)
    dict(id="q54", question="What is the CEO's salary?", answer="", answerable=False, sources=[]),
    dict(id="q55", question="What is the deductible on the dental plan?", answer="", answerable=False, sources=[]),
    dict(id="q56", question="How much does it cost to park at the Leeds office per day?", answer="",
         answerable=False, sources=[]),
    dict(id="q57", question="What mileage rate applies when I drive a company car?", answer="", answerable=False,
         sources=[]),
    dict(id="q58", question="Can I carry unused learning budget over into the next financial year?", answer="",
         answerable=False, sources=[]),
    dict(id="q59", question="How many employees work at the Glasgow engineering centre?", answer="",
         answerable=False, sources=[]),
    dict(id="q60", question="How many days of paid leave do I get for my wedding?", answer="", answerable=False,
         sources=[]),
    dict(id="q61", question="Who won the Ripple Award last quarter?", answer="", answerable=False, sources=[]),
]


def public_questions() -> list[dict]:
    """QUESTIONS in the questions.jsonl format (no check keys)."""
    out = []
    for q in QUESTIONS:
        row = {"id": q["id"], "question": q["question"], "answer": q["answer"]}
        srcs = []
        for s in q["sources"]:
            if s["name"].endswith(".pdf"):
                srcs.append({"name": s["name"], "page": s["page"]})
            else:
                srcs.append({"name": s["name"], "page": None, "heading": s["heading"]})
        row["sources"] = srcs
        row["answerable"] = q.get("answerable", True)
        if "follow_up_of" in q:
            row["follow_up_of"] = q["follow_up_of"]
        out.append(row)
    return out


# ===================================================================================================
# PDF writer (reportlab, imported lazily: only needed to regenerate)
# ===================================================================================================

_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _rl_markup(text: str) -> str:
    return _BOLD.sub(r"<b>\1</b>", escape(text))


def _plain(text: str) -> str:
    return _BOLD.sub(r"\1", text)


def render_pdf(doc: Doc) -> tuple[bytes, dict]:
    """Lay out ``doc`` twice (the second pass knows the page count for "Page N of M")."""
    # reportlab's invariant mode makes the output byte-for-byte reproducible; SOURCE_DATE_EPOCH sets the
    # creation/modification date it records (instead of 1 January 2000)
    saved = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(int(FIXED_TIME.replace(tzinfo=dt.timezone.utc).timestamp()))
    try:
        data, info = _render_pdf(doc, None)
        data, info2 = _render_pdf(doc, info["pages"])
    finally:
        if saved is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = saved
    assert info2["pages"] == info["pages"]
    return data, info2


def _render_pdf(doc: Doc, total_pages: int | None) -> tuple[bytes, dict]:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import (BaseDocTemplate, CondPageBreak, Frame, ListFlowable, ListItem, PageTemplate,
                                    Paragraph, Spacer, Table, TableStyle)

    # Bullets are drawn in Bitstream Vera (shipped with reportlab, embedded as a subset with a ToUnicode map)
    # because a "•" in the standard Helvetica encoding comes out of pypdf as the control character \x7f.
    if "Vera" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
    teal = colors.HexColor("#0B5563")
    grey = colors.HexColor("#5A6570")
    zebra = colors.HexColor("#EEF4F5")

    body = ParagraphStyle("Body", fontName="Helvetica", fontSize=10, leading=14, spaceAfter=6, alignment=TA_LEFT,
                          allowWidows=0, allowOrphans=0)
    h1 = ParagraphStyle("H1", fontName="Helvetica-Bold", fontSize=15, leading=19, spaceBefore=14, spaceAfter=6,
                        textColor=teal)
    h2 = ParagraphStyle("H2", fontName="Helvetica-Bold", fontSize=11.5, leading=15, spaceBefore=9, spaceAfter=4)
    title = ParagraphStyle("Title", fontName="Helvetica-Bold", fontSize=24, leading=29, textColor=teal, spaceAfter=4)
    subtitle = ParagraphStyle("Subtitle", fontName="Helvetica", fontSize=12, leading=16, textColor=grey, spaceAfter=12)
    cell = ParagraphStyle("Cell", fontName="Helvetica", fontSize=9, leading=11.5)
    head_cell = ParagraphStyle("HeadCell", parent=cell, fontName="Helvetica-Bold", textColor=colors.white)
    item = ParagraphStyle("Item", parent=body, spaceAfter=3)

    class TaggedParagraph(Paragraph):
        """A body paragraph whose fragments remember which paragraph they came from."""

        tag = None

        def split(self, availWidth, availHeight):
            parts = super().split(availWidth, availHeight)
            for part in parts:
                part.tag = self.tag
            return parts

    class Template(BaseDocTemplate):
        def __init__(self, buf):
            super().__init__(buf, pagesize=A4, leftMargin=2.2 * cm, rightMargin=2.2 * cm, topMargin=2.6 * cm,
                             bottomMargin=2.3 * cm, title=doc.title, author=COMPANY, subject=doc.subtitle,
                             creator="tools/make_sample_docs.py", producer="ReportLab", invariant=1)
            frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="body",
                          leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
            self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self.decorate)])
            self.outline_keys = 0
            self.fragments: dict[int, set[int]] = {}
            self.free_space: dict[int, int] = {}

        def decorate(self, canv, _doc):
            w, h = A4
            left, right = self.leftMargin, w - self.rightMargin
            canv.showOutline()  # open the bookmarks pane in viewers
            canv.saveState()
            canv.setStrokeColor(teal)
            canv.setLineWidth(0.6)
            canv.setFont("Helvetica-Bold", 8.5)
            canv.setFillColor(teal)
            canv.drawString(left, h - 1.5 * cm, COMPANY)
            canv.setFont("Helvetica", 8.5)
            canv.setFillColor(grey)
            canv.drawRightString(right, h - 1.5 * cm, doc.title)
            canv.line(left, h - 1.7 * cm, right, h - 1.7 * cm)
            canv.line(left, 1.6 * cm, right, 1.6 * cm)
            canv.drawString(left, 1.15 * cm, CONFIDENTIAL)
            total = total_pages if total_pages is not None else 0
            canv.drawRightString(right, 1.15 * cm, f"Page {canv.getPageNumber()} of {total}")
            canv.restoreState()

        def afterFlowable(self, flowable):
            level = getattr(flowable, "outline_level", None)
            if level is not None:
                self.outline_keys += 1
                key = f"sec{self.outline_keys}"
                self.canv.bookmarkPage(key)
                self.canv.addOutlineEntry(flowable.outline_text, key, level=level, closed=False)
            if self.frame is not None:
                self.free_space[self.page] = round(self.frame._y - self.bottomMargin)
            tag = getattr(flowable, "tag", None)
            if tag is not None:
                self.fragments.setdefault(tag, set()).add(self.page)

    def table(header, rows, widths, avail):
        data = [[Paragraph(_rl_markup(c), head_cell) for c in header]]
        data += [[Paragraph(_rl_markup(c), cell) for c in r] for r in rows]
        widths = widths or [1 / len(header)] * len(header)
        t = Table(data, colWidths=[avail * f for f in widths], repeatRows=1, hAlign="LEFT")
        t.setStyle(TableStyle([
            ("BACKGROUND", (0, 0), (-1, 0), teal),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, zebra]),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#9FB3B8")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 5), ("RIGHTPADDING", (0, 0), (-1, -1), 5),
            ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ]))
        return t

    buf = io.BytesIO()
    tpl = Template(buf)
    avail = tpl.width
    story = [Paragraph(escape(doc.title), title), Paragraph(escape(doc.subtitle), subtitle)]
    meta = table([m[0] for m in doc.meta], [[m[1] for m in doc.meta]], None, avail)
    story += [meta, Spacer(1, 8)]
    n_par = 0
    for i, block in enumerate(doc.blocks):
        kind = block[0]
        if kind in ("h1", "h2"):
            p = Paragraph(escape(block[1]), h1 if kind == "h1" else h2)
            p.outline_level = 0 if kind == "h1" else 1
            p.outline_text = block[1]
            # keep a heading (and a sub-heading right after it) with at least three lines of what follows,
            # but let long paragraphs split across pages
            need = h1.leading + 3 * body.leading + 26
            if i + 1 < len(doc.blocks) and doc.blocks[i + 1][0] in ("h1", "h2"):
                need += h2.leading + 14
            story += [CondPageBreak(need), p]
        elif kind == "p":
            n_par += 1
            p = TaggedParagraph(_rl_markup(block[1]), body)
            p.tag = n_par
            story.append(p)
        elif kind in ("bullets", "numbers"):
            items = [ListItem(Paragraph(_rl_markup(t), item), leftIndent=16) for t in block[1]]
            if kind == "bullets":
                lst = ListFlowable(items, bulletType="bullet", start="•", leftIndent=16,
                                   bulletFontName="Vera", bulletFontSize=9)
            else:
                lst = ListFlowable(items, bulletType="1", bulletFormat="%s.", leftIndent=16,
                                   bulletFontName="Helvetica", bulletFontSize=10)
            story += [lst, Spacer(1, 4)]
        elif kind == "table":
            story += [table(block[1], block[2], block[3], avail), Spacer(1, 8)]
        else:
            raise ValueError(kind)
    tpl.build(story)
    flowed = sorted(tag for tag, pages in tpl.fragments.items() if len(pages) > 1)
    return buf.getvalue(), {"pages": tpl.page, "flowed_paragraphs": flowed, "free_space": tpl.free_space}


# ===================================================================================================
# DOCX writer (python-docx)
# ===================================================================================================


def render_docx(doc: Doc) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    d = Document()
    d.styles["Normal"].font.name = "Calibri"
    d.styles["Normal"].font.size = Pt(11)

    section = d.sections[0]
    hp = section.header.paragraphs[0]
    hp.text = f"{COMPANY} – {doc.title}"
    hp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for r in hp.runs:
        r.font.size = Pt(8)
        r.font.color.rgb = RGBColor(0x5A, 0x65, 0x70)
    fp = section.footer.paragraphs[0]
    fp.add_run(f"{CONFIDENTIAL}    Page ")
    _add_field(fp.add_run(), "PAGE", OxmlElement, qn)
    fp.add_run(" of ")
    _add_field(fp.add_run(), "NUMPAGES", OxmlElement, qn)
    for r in fp.runs:
        r.font.size = Pt(8)

    d.add_paragraph(doc.title, style="Title")
    d.add_paragraph(doc.subtitle, style="Subtitle")
    _docx_table(d, [m[0] for m in doc.meta], [[m[1] for m in doc.meta]], OxmlElement, qn)

    for block in doc.blocks:
        kind = block[0]
        if kind == "h1":
            d.add_heading(block[1], level=1)
        elif kind == "h2":
            d.add_heading(block[1], level=2)
        elif kind == "p":
            _docx_runs(d.add_paragraph(), block[1])
        elif kind == "bullets":
            for t in block[1]:
                _docx_runs(d.add_paragraph(style="List Bullet"), t)
        elif kind == "numbers":
            num_id = _new_numbering(d)
            for t in block[1]:
                p = d.add_paragraph(style="List Number")
                _docx_runs(p, t)
                num_pr = p._p.get_or_add_pPr().get_or_add_numPr()
                num_pr.get_or_add_ilvl().val = 0
                num_pr.get_or_add_numId().val = num_id
        elif kind == "table":
            _docx_table(d, block[1], block[2], OxmlElement, qn)
        else:
            raise ValueError(kind)

    cp = d.core_properties
    cp.title = doc.title
    cp.subject = doc.subtitle
    cp.author = COMPANY
    cp.last_modified_by = COMPANY
    cp.comments = "Fictional sample document generated by tools/make_sample_docs.py"
    cp.created = FIXED_TIME
    cp.modified = FIXED_TIME
    cp.last_printed = FIXED_TIME
    cp.revision = 1
    buf = io.BytesIO()
    d.save(buf)
    return _normalise_zip(buf.getvalue())


def _docx_runs(paragraph, text: str) -> None:
    for i, part in enumerate(re.split(r"\*\*", text)):
        if part:
            paragraph.add_run(part).bold = bool(i % 2)


def _docx_table(d, header, rows, OxmlElement, qn) -> None:
    t = d.add_table(rows=1 + len(rows), cols=len(header))
    t.style = "Table Grid"
    for j, h in enumerate(header):
        c = t.rows[0].cells[j]
        c.text = ""
        c.paragraphs[0].add_run(h).bold = True
    tr_pr = t.rows[0]._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)
    for i, r in enumerate(rows, start=1):
        for j, v in enumerate(r):
            t.rows[i].cells[j].text = _plain(v)
    d.add_paragraph()


def _add_field(run, instr: str, OxmlElement, qn) -> None:
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = instr
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run._r.append(begin)
    run._r.append(text)
    run._r.append(end)


def _new_numbering(d) -> int:
    """A fresh numbering instance of the "List Number" definition, restarting at 1."""
    numbering = d.part.numbering_part.element
    style_num_id = d.styles["List Number"].element.pPr.numPr.numId.val
    num = numbering.num_having_numId(style_num_id)
    new = numbering.add_num(num.abstractNumId.val)
    new.add_lvlOverride(ilvl=0).add_startOverride(1)
    return new.numId


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite the DOCX zip with fixed timestamps so that regenerating gives identical bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


# ===================================================================================================
# Generation
# ===================================================================================================


def generate() -> None:
    written = []
    for doc in PDF_DOCS:
        data, info = render_pdf(doc)
        if not info["flowed_paragraphs"]:
            print(f"warning: no paragraph of {doc.name} flows across a page break", file=sys.stderr)
        written.append(_write(doc.path, data))
        print(f"{doc.path}: {info['pages']} pages, paragraphs across page breaks: {info['flowed_paragraphs']}")
        if os.environ.get("SAMPLE_DOCS_DEBUG"):
            print("   free space (pt) at the bottom of each page:", info["free_space"])
    for doc in DOCX_DOCS:
        written.append(_write(doc.path, render_docx(doc)))
        print(f"{doc.path}")
    for rel, text in TEXT_FILES.items():
        written.append(_write(rel, text.encode("utf-8")))
        print(rel)
    lines = "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in public_questions())
    written.append(_write("questions.jsonl", lines.encode("utf-8")))
    written.append(_write("README.md", README.encode("utf-8")))
    total = sum(p.stat().st_size for p in written)
    print(f"{len(written)} files, {total / 1024:.0f} KiB")


def _write(rel: str, data: bytes) -> Path:
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ===================================================================================================
# Checking
# ===================================================================================================


def _norm(text: str) -> str:
    text = text.replace("\u00a0", " ").replace("\u2019", "'")
    return re.sub(r"\s+", " ", text).strip().lower()


def all_docs() -> dict[str, str]:
    """File name -> path relative to sample_docs/."""
    names = {d.name: d.path for d in PDF_DOCS + DOCX_DOCS}
    names.update({Path(p).name: p for p in TEXT_FILES})
    assert len(names) == len(PDF_DOCS) + len(DOCX_DOCS) + len(TEXT_FILES), "duplicate file names"
    return names


def pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(str(path)).pages]


def docx_sections(path: Path) -> list[tuple[str | None, str]]:
    """(heading, text) for each heading section, in order; tables are included where they occur."""
    from docx import Document
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    d = Document(str(path))
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for child in d.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(child, d)
            if p.style is not None and p.style.name.startswith("Heading"):
                sections.append((p.text, []))
            else:
                sections[-1][1].append(p.text)
        elif tag == "tbl":
            for row in Table(child, d).rows:
                sections[-1][1].append(" | ".join(c.text for c in row.cells))
    return [(h, "\n".join(t)) for h, t in sections]


def md_sections(text: str) -> list[tuple[str | None, str]]:
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            sections.append((m.group(1).strip(), []))
        else:
            sections[-1][1].append(line)
    return [(h, "\n".join(t)) for h, t in sections]


def source_text(src: dict, cache: dict) -> str:
    rel = all_docs()[src["name"]]
    path = OUT / rel
    if rel not in cache:
        if rel.endswith(".pdf"):
            cache[rel] = pdf_pages(path)
        elif rel.endswith(".docx"):
            cache[rel] = docx_sections(path)
        elif rel.endswith(".md"):
            cache[rel] = md_sections(path.read_text(encoding="utf-8"))
        else:
            cache[rel] = path.read_text(encoding="utf-8")
    content = cache[rel]
    if rel.endswith(".pdf"):
        return content[src["page"] - 1]
    if rel.endswith((".docx", ".md")):
        texts = [t for h, t in content if h == src["heading"]]
        if len(texts) != 1:
            raise AssertionError(f"{src['name']}: heading {src['heading']!r} found {len(texts)} times")
        return texts[0]
    return content


def check() -> int:
    errors: list[str] = []

    def expect(cond, msg):
        if not cond:
            errors.append(msg)

    from docx import Document
    from pypdf import PdfReader

    # --- files, structure and page furniture
    total = 0
    for doc in PDF_DOCS:
        path = OUT / doc.path
        if not path.exists():
            errors.append(f"missing {doc.path}")
            continue
        total += path.stat().st_size
        reader = PdfReader(str(path))
        n = len(reader.pages)
        expect(3 <= n <= 8, f"{doc.name}: {n} pages (want 3-8)")
        expect((reader.metadata or {}).get("/Title") == doc.title, f"{doc.name}: metadata title")
        outline = [o.title for o in _flatten(reader.outline)]
        headings = [b[1] for b in doc.blocks if b[0] in ("h1", "h2")]
        expect(outline == headings, f"{doc.name}: outline {outline[:3]}... != headings")
        for i, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            for furniture in (COMPANY, doc.title, CONFIDENTIAL, f"Page {i} of {n}"):
                expect(furniture in text, f"{doc.name} p{i}: header/footer {furniture!r} missing")
        kinds = {b[0] for b in doc.blocks}
        expect({"h1", "h2", "table"} <= kinds and kinds & {"bullets", "numbers"},
               f"{doc.name}: needs headings, sub-headings, a table and a list")
    for doc in DOCX_DOCS:
        path = OUT / doc.path
        if not path.exists():
            errors.append(f"missing {doc.path}")
            continue
        total += path.stat().st_size
        d = Document(str(path))
        expect(d.core_properties.title == doc.title, f"{doc.name}: core_properties.title")
        styles = [p.style.name for p in d.paragraphs]
        expect(styles.count("Heading 1") >= 4, f"{doc.name}: fewer than 4 Heading 1 sections")
        expect("Heading 2" in styles, f"{doc.name}: no Heading 2")
        expect("List Bullet" in styles and "List Number" in styles, f"{doc.name}: needs bulleted and numbered lists")
        expect(len(d.tables) >= 1 and all(t.style.name == "Table Grid" for t in d.tables), f"{doc.name}: tables")
        sec = d.sections[0]
        expect(sec.header.paragraphs[0].text.strip() and CONFIDENTIAL in sec.footer.paragraphs[0].text,
               f"{doc.name}: header/footer")
    for rel, text in TEXT_FILES.items():
        path = OUT / rel
        expect(path.exists() and path.read_text(encoding="utf-8") == text, f"{rel}: missing or stale")
        total += path.stat().st_size if path.exists() else 0

    # --- questions.jsonl equals the generator's list, and every answer is where it says
    qpath = OUT / "questions.jsonl"
    rows = [json.loads(line) for line in qpath.read_text(encoding="utf-8").splitlines() if line.strip()]
    expect(rows == public_questions(), "questions.jsonl is stale: run tools/make_sample_docs.py")
    ids = [q["id"] for q in QUESTIONS]
    expect(len(ids) == len(set(ids)), "duplicate question ids")
    answerable = [q for q in QUESTIONS if q.get("answerable", True)]
    unanswerable = [q for q in QUESTIONS if not q.get("answerable", True)]
    expect(len(QUESTIONS) >= 36 and len(answerable) >= 30 and len(unanswerable) >= 6, "question counts")
    expect(sum("follow_up_of" in q for q in QUESTIONS) >= 2, "need 2 follow-up questions")
    for q in unanswerable:
        expect(q["sources"] == [] and q["answer"] == "", f"{q['id']}: unanswerable needs no sources/answer")
    for q in QUESTIONS:
        if "follow_up_of" in q:
            expect(q["follow_up_of"] in ids[: ids.index(q["id"])], f"{q['id']}: follow_up_of must be earlier")
    cited = {s["name"] for q in answerable for s in q["sources"]}
    expect(cited == set(all_docs()), f"files without questions: {sorted(set(all_docs()) - cited)}")
    cache: dict = {}
    for q in answerable:
        expect(q["sources"], f"{q['id']}: no sources")
        for src in q["sources"]:
            keys = src.get("key") or q.get("key") or [q["answer"]]
            try:
                text = _norm(source_text(src, cache))
            except (AssertionError, IndexError, KeyError) as exc:
                errors.append(f"{q['id']}: {exc!r}")
                continue
            for k in keys:
                expect(_norm(k) in text, f"{q['id']}: {k!r} not in {src['name']} "
                                         f"{'page ' + str(src['page']) if src['page'] else src.get('heading')}")

    # --- the committed PDFs/DOCX are current, and long paragraphs flow across page breaks
    try:
        import reportlab  # noqa: F401
    except ImportError:
        print("reportlab not installed: skipping the layout/staleness check of the PDFs")
    else:
        for doc in PDF_DOCS:
            data, info = render_pdf(doc)
            expect(info["flowed_paragraphs"], f"{doc.name}: no paragraph flows across a page break")
            fresh = [_norm(p.extract_text() or "") for p in PdfReader(io.BytesIO(data)).pages]
            on_disk = [_norm(t) for t in pdf_pages(OUT / doc.path)]
            expect(fresh == on_disk, f"{doc.name} is stale: run tools/make_sample_docs.py")
    for doc in DOCX_DOCS:
        fresh = Document(io.BytesIO(render_docx(doc)))
        expect([p.text for p in fresh.paragraphs] == [p.text for p in Document(str(OUT / doc.path)).paragraphs],
               f"{doc.name} is stale: run tools/make_sample_docs.py")

    total += sum((OUT / n).stat().st_size for n in ("questions.jsonl", "README.md") if (OUT / n).exists())
    expect(total < 2 * 1024 * 1024, f"sample_docs is {total} bytes (limit 2 MB)")

    for e in errors:
        print("FAIL:", e)
    print(f"checked {len(PDF_DOCS) + len(DOCX_DOCS) + len(TEXT_FILES)} documents, {len(QUESTIONS)} questions "
          f"({len(answerable)} answerable): {'OK' if not errors else f'{len(errors)} problem(s)'}")
    return 1 if errors else 0


def _flatten(outline):
    for item in outline:
        if isinstance(item, list):
            yield from _flatten(item)
        else:
            yield item


def locate(phrase: str) -> None:
    """Print every page/section where ``phrase`` occurs (to help write questions)."""
    needle = _norm(phrase)
    for name, rel in sorted(all_docs().items()):
        path = OUT / rel
        if rel.endswith(".pdf"):
            for i, t in enumerate(pdf_pages(path), start=1):
                if needle in _norm(t):
                    print(f"{name} page {i}")
        elif rel.endswith(".docx"):
            for h, t in docx_sections(path):
                if needle in _norm(t):
                    print(f"{name} heading {h!r}")
        elif rel.endswith(".md"):
            for h, t in md_sections(path.read_text(encoding="utf-8")):
                if needle in _norm(t):
                    print(f"{name} heading {h!r}")
        elif needle in _norm(path.read_text(encoding="utf-8")):
            print(name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="verify sample_docs/ instead of writing it")
    ap.add_argument("--locate", metavar="PHRASE", help="print where a phrase occurs in sample_docs/")
    args = ap.parse_args(argv)
    if args.check:
        return check()
    if args.locate:
        locate(args.locate)
        return 0
    generate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
